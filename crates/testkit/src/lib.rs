//! What the tests run against, kept out of the production crates: real emulators where they
//! exist and one small double where none does.
//!
//! - [`double`]: the SageMaker Feature Store runtime's HTTP API (`PutRecord`, `BatchGetRecord`,
//!   `GetRecord`), with injectable faults: no emulator implements it.
//! - [`moto`]: `moto_server` on a free loopback port, for SQS and CloudWatch.
//! - [`emulator`]: the Lambda Runtime API emulator of `cargo lambda watch`, to invoke a built
//!   function as Lambda would.
//! - [`tansu`]: a tansu broker on a free loopback port, for the broker suites.
//! - [`debian`]: servers and tools from Debian's packages (Chromium, Prometheus).

pub mod confluent;
pub mod debian;
pub mod double;
pub mod emulator;
pub mod moto;
pub mod tansu;
