//! The `cdn` command: `cdn up` starts a world's components as child
//! processes; `cdn stats` prints what every edge served and what it cost
//! ([`stats`]); `cdn edge`/`cdn origin` run one component (the same code as
//! the `edge` and `origin` binaries, so `cdn up` needs only this binary).
//! `cdn purge` fans a purge out to every edge of a world ([`purge`]).
//! `cdn replay` runs a trace against offline cache models ([`replay`]).
//! `cdn up` and `cdn run` serve a live page of the world ([`dashboard`]).
//! `cdn pop` runs a PoP cluster's balancer ([`balancer`]; its `/stats`
//! adds up its nodes', [`pop_stats`]).

pub mod arms;
pub mod balancer;
pub mod dashboard;
pub mod driver;
pub mod estimate;
pub mod events;
pub mod origins;
pub mod plot;
pub mod pop_stats;
pub mod purge;
pub mod replay;
pub mod report;
pub mod restart;
pub mod run;
pub mod scenario;
pub mod shadow;
pub mod stats;
pub mod supervisor;
pub mod tally;
pub mod trace_compare;
pub mod up;
pub mod workload;
