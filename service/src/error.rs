//! The service's one error mapping: everything a handler can fail with becomes
//! a `tonic::Status` here, carrying a `google.rpc.ErrorInfo` (and `BadRequest`
//! or `RetryInfo` where they help the caller) so that clients such as the
//! gateway can tell DynamoDB's error code and operation apart from the code.

use std::{collections::HashMap, time::Duration};

use music_api::wire::{
    DEADLINE_EXCEEDED, DYNAMODB_DOMAIN, ITEM_NOT_FOUND, OPERATION, OVERLOADED, SERVICE_DOMAIN,
};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::{
    domain::Violation,
    store::{FailureKind, Operation, StoreError},
};

/// How long a throttled caller is told to wait before retrying.
pub const THROTTLE_RETRY_DELAY: Duration = Duration::from_secs(1);
/// How long a shed caller is told to wait: requests in flight finish in milliseconds.
pub const OVERLOAD_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request did not pass the input checks; DynamoDB was not called.
    #[error("invalid {} request: {violation}", operation.as_str())]
    Invalid {
        operation: Operation,
        violation: Violation,
    },
    /// GetItem found no item under the key.
    #[error("item not found")]
    ItemNotFound,
    /// The service is serving as many requests as it may; this one was shed.
    #[error("the service is at its limit of {max_in_flight} requests in flight")]
    Overloaded { max_in_flight: usize },
    /// The caller's deadline (`grpc-timeout`) passed before the work was done.
    #[error("the caller's deadline of {} ms passed", budget.as_millis())]
    DeadlineExceeded { budget: Duration },
    /// DynamoDB (or reaching it) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    pub fn invalid(operation: Operation) -> impl FnOnce(Violation) -> Self {
        move |violation| Self::Invalid {
            operation,
            violation,
        }
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid {
                operation,
                violation,
            } => {
                let mut details = error_info("ValidationException", DYNAMODB_DOMAIN, operation);
                details.add_bad_request_violation(violation.field, violation.description.clone());
                Status::with_error_details(Code::InvalidArgument, violation.description, details)
            }
            ServiceError::ItemNotFound => Status::with_error_details(
                Code::NotFound,
                "Item not found",
                ErrorDetails::with_error_info(ITEM_NOT_FOUND, SERVICE_DOMAIN, HashMap::new()),
            ),
            ServiceError::Overloaded { max_in_flight } => {
                let mut details =
                    ErrorDetails::with_error_info(OVERLOADED, SERVICE_DOMAIN, HashMap::new());
                details.set_retry_info(Some(OVERLOAD_RETRY_DELAY));
                Status::with_error_details(
                    Code::ResourceExhausted,
                    format!(
                        "The service is at its limit of {max_in_flight} requests in flight; retry shortly."
                    ),
                    details,
                )
            }
            ServiceError::DeadlineExceeded { budget } => Status::with_error_details(
                Code::DeadlineExceeded,
                format!(
                    "The caller's deadline of {} ms passed before the service finished.",
                    budget.as_millis()
                ),
                ErrorDetails::with_error_info(DEADLINE_EXCEEDED, SERVICE_DOMAIN, HashMap::new()),
            ),
            ServiceError::Store(error) => store_status(error),
        }
    }
}

/// The gRPC code for a store failure. Exhaustive: a new kind must be mapped here.
pub fn code_for(kind: FailureKind, operation: Operation) -> Code {
    let creates_table = operation == Operation::CreateTable;
    match kind {
        FailureKind::ResourceNotFound => Code::NotFound,
        // The table exists (CreateTable), or is busy being created or deleted.
        FailureKind::ResourceInUse if creates_table => Code::AlreadyExists,
        FailureKind::ResourceInUse => Code::FailedPrecondition,
        FailureKind::Validation => Code::InvalidArgument,
        // A condition of "only if absent" (PutItem, CreateTable), or one the
        // caller could not have known about.
        FailureKind::ConditionFailed => match operation {
            Operation::PutItem | Operation::CreateTable => Code::AlreadyExists,
            Operation::DeleteTable
            | Operation::DescribeTable
            | Operation::ListTables
            | Operation::GetItem
            | Operation::UpdateItem
            | Operation::DeleteItem
            | Operation::Query
            | Operation::Scan
            | Operation::BatchGetItem
            | Operation::BatchWriteItem => Code::FailedPrecondition,
        },
        // The caller's etag no longer matches (AIP-154): read again, retry.
        FailureKind::EtagMismatch => Code::Aborted,
        FailureKind::Throttled => Code::ResourceExhausted,
        FailureKind::Unavailable => Code::Unavailable,
        FailureKind::Timeout | FailureKind::TableNotReady => Code::DeadlineExceeded,
        FailureKind::CredentialsRejected | FailureKind::Other => Code::Internal,
    }
}

fn store_status(error: StoreError) -> Status {
    let code = code_for(error.kind, error.operation);
    // Only what DynamoDB itself answered is in its domain: a gateway rebuilds
    // botocore's "An error occurred (Code) ..." text from those alone.
    let domain = if error.dynamodb_answered {
        DYNAMODB_DOMAIN
    } else {
        SERVICE_DOMAIN
    };
    let mut details = error_info(&error.code, domain, error.operation);
    let message = match error.kind {
        FailureKind::Throttled => {
            details.set_retry_info(Some(THROTTLE_RETRY_DELAY));
            error.message
        }
        FailureKind::CredentialsRejected => {
            // The caller did nothing wrong; the cause goes to the log, not to them.
            tracing::error!(%error, "DynamoDB refused the service's credentials");
            format!(
                "DynamoDB refused the service's credentials ({}); the operator must fix the service's AWS configuration",
                error.code
            )
        }
        FailureKind::Other => {
            tracing::error!(%error, "unexpected DynamoDB error");
            error.message
        }
        FailureKind::ResourceNotFound
        | FailureKind::ResourceInUse
        | FailureKind::Validation
        | FailureKind::ConditionFailed
        | FailureKind::EtagMismatch
        | FailureKind::Unavailable
        | FailureKind::Timeout
        | FailureKind::TableNotReady => error.message,
    };
    Status::with_error_details(code, message, details)
}

fn error_info(reason: &str, domain: &str, operation: Operation) -> ErrorDetails {
    ErrorDetails::with_error_info(
        reason,
        domain,
        HashMap::from([(OPERATION.to_owned(), operation.as_str().to_owned())]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_error(kind: FailureKind, operation: Operation, code: &str) -> Status {
        ServiceError::Store(StoreError {
            operation,
            kind,
            code: code.into(),
            message: "DynamoDB says no".into(),
            dynamodb_answered: true,
        })
        .into()
    }

    #[test]
    fn resource_in_use_is_already_exists_only_on_create_table() {
        let create = store_error(
            FailureKind::ResourceInUse,
            Operation::CreateTable,
            "ResourceInUseException",
        );
        assert_eq!(create.code(), Code::AlreadyExists);
        let delete = store_error(
            FailureKind::ResourceInUse,
            Operation::DeleteTable,
            "ResourceInUseException",
        );
        assert_eq!(delete.code(), Code::FailedPrecondition);
    }

    #[test]
    fn store_errors_carry_dynamodb_error_info() {
        let status = store_error(
            FailureKind::ResourceNotFound,
            Operation::GetItem,
            "ResourceNotFoundException",
        );
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "DynamoDB says no");
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "ResourceNotFoundException");
        assert_eq!(info.domain, DYNAMODB_DOMAIN);
        assert_eq!(
            info.metadata.get("operation").map(String::as_str),
            Some("GetItem")
        );
    }

    #[test]
    fn throttling_is_resource_exhausted_with_retry_info() {
        let status = store_error(
            FailureKind::Throttled,
            Operation::PutItem,
            "ProvisionedThroughputExceededException",
        );
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            status.get_details_retry_info().and_then(|r| r.retry_delay),
            Some(THROTTLE_RETRY_DELAY)
        );
    }

    #[test]
    fn rejected_credentials_are_internal_and_say_whose_they_are() {
        let status = store_error(
            FailureKind::CredentialsRejected,
            Operation::GetItem,
            "UnrecognizedClientException",
        );
        assert_eq!(status.code(), Code::Internal);
        assert!(status.message().contains("service's credentials"));
    }

    #[test]
    fn every_kind_has_a_code() {
        use FailureKind::*;
        let expected = [
            (ResourceNotFound, Code::NotFound),
            (Validation, Code::InvalidArgument),
            (ConditionFailed, Code::AlreadyExists),
            (Throttled, Code::ResourceExhausted),
            (Unavailable, Code::Unavailable),
            (Timeout, Code::DeadlineExceeded),
            (TableNotReady, Code::DeadlineExceeded),
            (Other, Code::Internal),
        ];
        for (kind, code) in expected {
            assert_eq!(code_for(kind, Operation::PutItem), code, "{kind:?}");
        }
    }

    #[test]
    fn invalid_input_carries_bad_request_and_validation_reason() {
        let status: Status = ServiceError::Invalid {
            operation: Operation::CreateTable,
            violation: Violation {
                field: "table_name",
                description: "too short".into(),
            },
        }
        .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "too short");
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "ValidationException");
        assert_eq!(info.metadata["operation"], "CreateTable");
        let bad = status.get_details_bad_request().expect("BadRequest");
        assert_eq!(bad.field_violations[0].field, "table_name");
    }

    #[test]
    fn missing_item_is_not_found_with_its_own_reason() {
        let status: Status = ServiceError::ItemNotFound.into();
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(
            status.get_details_error_info().unwrap().reason,
            ITEM_NOT_FOUND
        );
    }

    mod properties {
        use proptest::prelude::*;
        use tonic::Code;
        use tonic_types::StatusExt;

        use super::super::*;

        /// Every kind, listed through a match without a wildcard: a new
        /// kind breaks this build until it is listed here too.
        fn kinds() -> Vec<FailureKind> {
            let all = [
                FailureKind::ResourceNotFound,
                FailureKind::ResourceInUse,
                FailureKind::Validation,
                FailureKind::ConditionFailed,
                FailureKind::EtagMismatch,
                FailureKind::Throttled,
                FailureKind::Unavailable,
                FailureKind::Timeout,
                FailureKind::CredentialsRejected,
                FailureKind::TableNotReady,
                FailureKind::Other,
            ];
            for kind in all {
                match kind {
                    FailureKind::ResourceNotFound
                    | FailureKind::ResourceInUse
                    | FailureKind::Validation
                    | FailureKind::ConditionFailed
                    | FailureKind::EtagMismatch
                    | FailureKind::Throttled
                    | FailureKind::Unavailable
                    | FailureKind::Timeout
                    | FailureKind::CredentialsRejected
                    | FailureKind::TableNotReady
                    | FailureKind::Other => {}
                }
            }
            all.to_vec()
        }

        /// Every operation, listed the same way.
        fn operations() -> Vec<Operation> {
            let all = [
                Operation::CreateTable,
                Operation::DeleteTable,
                Operation::DescribeTable,
                Operation::ListTables,
                Operation::PutItem,
                Operation::GetItem,
                Operation::UpdateItem,
                Operation::DeleteItem,
                Operation::Query,
                Operation::Scan,
                Operation::BatchGetItem,
                Operation::BatchWriteItem,
            ];
            for operation in all {
                match operation {
                    Operation::CreateTable
                    | Operation::DeleteTable
                    | Operation::DescribeTable
                    | Operation::ListTables
                    | Operation::PutItem
                    | Operation::GetItem
                    | Operation::UpdateItem
                    | Operation::DeleteItem
                    | Operation::Query
                    | Operation::Scan
                    | Operation::BatchGetItem
                    | Operation::BatchWriteItem => {}
                }
            }
            all.to_vec()
        }

        /// The contract's table of DynamoDB errors and gRPC codes, row by row.
        fn spec_code(kind: FailureKind, operation: Operation) -> Code {
            match (kind, operation) {
                (FailureKind::ResourceNotFound, _) => Code::NotFound,
                (FailureKind::ResourceInUse, Operation::CreateTable) => Code::AlreadyExists,
                (FailureKind::ResourceInUse, _) => Code::FailedPrecondition,
                (FailureKind::Validation, _) => Code::InvalidArgument,
                (FailureKind::ConditionFailed, Operation::PutItem | Operation::CreateTable) => {
                    Code::AlreadyExists
                }
                (FailureKind::ConditionFailed, _) => Code::FailedPrecondition,
                (FailureKind::EtagMismatch, _) => Code::Aborted,
                (FailureKind::Throttled, _) => Code::ResourceExhausted,
                (FailureKind::Unavailable, _) => Code::Unavailable,
                (FailureKind::Timeout | FailureKind::TableNotReady, _) => Code::DeadlineExceeded,
                (FailureKind::CredentialsRejected | FailureKind::Other, _) => Code::Internal,
            }
        }

        #[test]
        fn code_for_is_total_and_follows_the_spec_for_every_kind_and_operation() {
            for kind in kinds() {
                for operation in operations() {
                    assert_eq!(
                        code_for(kind, operation),
                        spec_code(kind, operation),
                        "{kind:?} on {operation:?}"
                    );
                }
            }
        }

        #[test]
        fn resource_in_use_is_already_exists_only_for_create_table() {
            for operation in operations() {
                assert_eq!(
                    code_for(FailureKind::ResourceInUse, operation) == Code::AlreadyExists,
                    operation == Operation::CreateTable,
                    "{operation:?}"
                );
            }
        }

        proptest! {
            /// Any store failure, whatever DynamoDB's code and message, becomes
            /// a status with its code, ErrorInfo and, when throttled, RetryInfo.
            #[test]
            fn any_store_failure_becomes_a_status_with_error_info(
                kind in prop::sample::select(kinds()),
                operation in prop::sample::select(operations()),
                code in any::<String>(),
                message in any::<String>(),
                answered in any::<bool>(),
            ) {
                let status: Status = ServiceError::Store(StoreError {
                    operation,
                    kind,
                    code: code.clone(),
                    message: message.clone(),
                    dynamodb_answered: answered,
                })
                .into();
                prop_assert_eq!(status.code(), code_for(kind, operation));
                let info = status.get_details_error_info().expect("ErrorInfo");
                prop_assert_eq!(&info.reason, &code);
                prop_assert_eq!(info.domain.as_str(), if answered { DYNAMODB_DOMAIN } else { SERVICE_DOMAIN });
                prop_assert_eq!(info.metadata.get("operation").map(String::as_str), Some(operation.as_str()));
                let retry = status.get_details_retry_info().and_then(|r| r.retry_delay);
                prop_assert_eq!(retry, (kind == FailureKind::Throttled).then_some(THROTTLE_RETRY_DELAY));
                if kind == FailureKind::CredentialsRejected {
                    // The cause goes to the log, not to the caller.
                    prop_assert!(status.message().contains("service's credentials"));
                } else {
                    prop_assert_eq!(status.message(), message.as_str());
                }
            }

            #[test]
            fn any_refused_input_is_invalid_argument_with_bad_request(
                operation in prop::sample::select(operations()),
                field in prop::sample::select(vec!["table_name", "song.artist", "page_token"]),
                description in any::<String>(),
            ) {
                let status: Status = ServiceError::Invalid {
                    operation,
                    violation: Violation { field, description: description.clone() },
                }
                .into();
                prop_assert_eq!(status.code(), Code::InvalidArgument);
                prop_assert_eq!(status.message(), description.as_str());
                let info = status.get_details_error_info().expect("ErrorInfo");
                prop_assert_eq!(info.reason.as_str(), "ValidationException");
                prop_assert_eq!(info.domain.as_str(), DYNAMODB_DOMAIN);
                let bad = status.get_details_bad_request().expect("BadRequest");
                prop_assert_eq!(bad.field_violations[0].field.as_str(), field);
            }
        }
    }
}
