//! `music.v1.ItemService`: the songs of a table.

use music_api::pb::{self, item_service_server::ItemService};
use tonic::{Request, Response, Status};

use super::answer;
use crate::{
    domain::{ItemRef, ItemWrite},
    error::ServiceError,
    store::{Operation, Store},
};

/// `ItemService` over a [`Store`].
#[derive(Debug, Clone)]
pub struct ItemApi {
    store: Store,
}

impl ItemApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl ItemService for ItemApi {
    async fn put_item(
        &self,
        request: Request<pb::PutItemRequest>,
    ) -> Result<Response<pb::PutItemResponse>, Status> {
        answer(
            async {
                let write = ItemWrite::try_from(request.into_inner())
                    .map_err(ServiceError::invalid(Operation::PutItem))?;
                let replaced = self.store.put_item(&write.table, &write.song).await?;
                Ok(pb::PutItemResponse { replaced })
            }
            .await,
        )
    }

    async fn get_item(
        &self,
        request: Request<pb::GetItemRequest>,
    ) -> Result<Response<pb::Song>, Status> {
        answer(
            async {
                let item = ItemRef::try_from(request.into_inner())
                    .map_err(ServiceError::invalid(Operation::GetItem))?;
                match self.store.get_item(&item.table, &item.key).await? {
                    Some(song) => Ok(song.into()),
                    None => Err(ServiceError::ItemNotFound),
                }
            }
            .await,
        )
    }

    async fn update_item(
        &self,
        request: Request<pb::UpdateItemRequest>,
    ) -> Result<Response<pb::Song>, Status> {
        answer(
            async {
                let write = ItemWrite::try_from(request.into_inner())
                    .map_err(ServiceError::invalid(Operation::UpdateItem))?;
                Ok(self
                    .store
                    .update_item(&write.table, &write.song)
                    .await?
                    .into())
            }
            .await,
        )
    }

    async fn delete_item(
        &self,
        request: Request<pb::DeleteItemRequest>,
    ) -> Result<Response<pb::DeleteItemResponse>, Status> {
        answer(
            async {
                let item = ItemRef::try_from(request.into_inner())
                    .map_err(ServiceError::invalid(Operation::DeleteItem))?;
                let existed = self.store.delete_item(&item.table, &item.key).await?;
                Ok(pb::DeleteItemResponse { existed })
            }
            .await,
        )
    }
}
