//! What the router tests share: the API served on a real loopback socket.

use loupe_store::Store;

/// Serves `/api/v1` over `store` on a fresh loopback port, as `loupe serve`
/// routes it (one `AppState`, the real router), until the test ends.
pub async fn serve_api(store: &Store) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = loupe_server::AppState::standalone(store.clone(), addr).expect("state");
    let router = axum::Router::new()
        .nest("/api/v1", loupe_server::api_routes())
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}
