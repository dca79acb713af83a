//! `music.v1.TableService`: tables with the tutorial's schema.

use music_api::pb::{self, table_service_server::TableService};
use tonic::{Request, Response, Status};

use super::answer;
use crate::{
    domain::{NewTable, TableName, TablePage},
    error::ServiceError,
    store::{Operation, Store},
};

/// `TableService` over a [`Store`].
#[derive(Debug, Clone)]
pub struct TableApi {
    store: Store,
}

impl TableApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl TableService for TableApi {
    async fn create_table(
        &self,
        request: Request<pb::CreateTableRequest>,
    ) -> Result<Response<pb::Table>, Status> {
        answer(
            async {
                let new = NewTable::try_from(request.into_inner())
                    .map_err(ServiceError::invalid(Operation::CreateTable))?;
                let table = self.store.create_table(&new.name, new.throughput).await?;
                Ok(table.into())
            }
            .await,
        )
    }

    async fn delete_table(
        &self,
        request: Request<pb::DeleteTableRequest>,
    ) -> Result<Response<pb::DeleteTableResponse>, Status> {
        answer(
            async {
                let name = TableName::try_from(request.into_inner())
                    .map_err(ServiceError::invalid(Operation::DeleteTable))?;
                let table = self.store.delete_table(&name).await?;
                Ok(pb::DeleteTableResponse {
                    table: Some(table.into()),
                })
            }
            .await,
        )
    }

    async fn describe_table(
        &self,
        request: Request<pb::DescribeTableRequest>,
    ) -> Result<Response<pb::Table>, Status> {
        answer(
            async {
                let name = TableName::try_from(request.into_inner())
                    .map_err(ServiceError::invalid(Operation::DescribeTable))?;
                Ok(self.store.describe_table(&name).await?.into())
            }
            .await,
        )
    }

    async fn list_tables(
        &self,
        request: Request<pb::ListTablesRequest>,
    ) -> Result<Response<pb::ListTablesResponse>, Status> {
        answer(
            async {
                let page = TablePage::try_from(request.into_inner())
                    .map_err(ServiceError::invalid(Operation::ListTables))?;
                Ok(self.store.list_tables(&page).await?.into())
            }
            .await,
        )
    }
}
