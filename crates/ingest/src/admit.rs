//! Admission of gRPC exports against the in-flight [`Budget`], in front of
//! tonic: a request arriving while the budget is spent is answered
//! `UNAVAILABLE` + `RetryInfo` before a byte of its body is read; an
//! admitted one is charged frame by frame as tonic reads its body, and a
//! frame that does not fit ends it with the same answer (tonic passes a
//! `Status` coming from the body on to the client). The charge travels to
//! the handler in the request's extensions ([`Admitted`]), which adjusts it
//! after decoding and holds it until the commit.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::{Body as HttpBody, Frame};
use tonic::body::Body;

use crate::budget::{Budget, Charge, DECODED_FACTOR, RETRY_AFTER};
use crate::stats::Transport;
use crate::status::IngestError;

/// The charge of an admitted request, in its extensions.
#[derive(Clone)]
pub struct Admitted(pub Arc<Charge>);

/// The error a refused export gets: retryable, with the hint.
pub(crate) fn over_budget(budget: &Budget) -> IngestError {
    IngestError::OverBudget {
        limit: budget.limit(),
        retry_after: RETRY_AFTER,
    }
}

#[derive(Clone)]
pub struct AdmitLayer(pub Arc<Budget>);

impl<S> tower::Layer<S> for AdmitLayer {
    type Service = Admit<S>;
    fn layer(&self, inner: S) -> Admit<S> {
        Admit {
            inner,
            budget: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Admit<S> {
    inner: S,
    budget: Arc<Budget>,
}

type BoxFuture<T, E> = Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S> tower::Service<http::Request<Body>> for Admit<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let Some(charge) = self.budget.admit() else {
            self.budget.count_refusal(Transport::Grpc);
            let resp = over_budget(&self.budget).to_grpc().into_http::<Body>();
            return Box::pin(std::future::ready(Ok(resp)));
        };
        let charge = Arc::new(charge);
        let (parts, body) = req.into_parts();
        let body = Body::new(Charged {
            inner: body,
            charge: charge.clone(),
            budget: self.budget.clone(),
        });
        let mut req = http::Request::from_parts(parts, body);
        req.extensions_mut().insert(Admitted(charge));
        Box::pin(self.inner.call(req))
    }
}

/// A request body that charges each frame before handing it on.
struct Charged {
    inner: Body,
    charge: Arc<Charge>,
    budget: Arc<Budget>,
}

impl HttpBody for Charged {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                // Charged as the decoded request it is about to become
                // (see `budget`), so admitted bodies cannot all overshoot.
                let n = frame.data_ref().map_or(0, |d| d.len());
                if n > 0 && !self.charge.try_add(n.saturating_mul(DECODED_FACTOR)) {
                    self.budget.count_refusal(Transport::Grpc);
                    return Poll::Ready(Some(Err(over_budget(&self.budget).to_grpc())));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
