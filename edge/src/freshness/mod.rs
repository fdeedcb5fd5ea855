//! HTTP caching rules: directive parsing, storability and freshness of
//! responses, and what a request allows. Pure functions of headers and
//! times, so every rule is tested without a server.

pub mod directives;
pub mod policy;
pub mod request;

pub use directives::{Delta, Directives};
pub use policy::{Evaluation, Exchange, Flags, NotStored, Timing, evaluate};
pub use request::{RequestDirectives, Reuse, reuse};
