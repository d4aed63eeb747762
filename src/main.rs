#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match frontdesk::server::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("frontdesk: {error}");
            error.exit_code()
        }
    }
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The client is a library loaded by the browser; the binary is the server (feature `ssr`).
}
