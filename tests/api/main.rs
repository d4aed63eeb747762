//! The API end to end, in one test binary (one link of the crate): a real server on a real port,
//! a real database (a SQLite file and a PostgreSQL database per test), real WebSockets, and a real
//! HTTP server speaking the OpenAI protocol. Server-rendered pages have their own binary
//! (`tests/pages.rs`): they need one runtime.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod branding;
mod budgets;
mod canned;
mod catalog;
mod chat;
mod contexts;
mod http_surface;
mod insight;
mod knowledge;
mod replicas;
mod satisfaction;
mod security;
mod staff;
mod workspace;
