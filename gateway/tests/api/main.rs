//! music-gateway's integration tests: the whole gateway runs in-process (the
//! service too, on a throwaway in-memory store) and is driven with the real
//! `curl`, as the tutorial's users drive it.

mod bad_input;
mod error_modes;
mod helpers;
mod hostile;
mod parameters;
mod request_id;
mod routing;
mod seed_calls;
