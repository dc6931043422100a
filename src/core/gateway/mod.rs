//! The proxy's decisions, kept pure so they are tested natively: configuration from the
//! Worker's environment, client authentication, model permissions and CORS. The `proxy` face
//! only reads the environment and applies what these functions decide.
pub mod access;
pub mod config;
pub mod format;
pub mod limits;
pub mod plan;
