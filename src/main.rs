#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() {
    frontdesk::server::run().await;
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The client is a library loaded by the browser; the binary is the server (feature `ssr`).
}
