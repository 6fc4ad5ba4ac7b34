use ingress::{Ingress, IngressConfig};
use lambda_http::{Error, run, service_fn};
use shared::config::process_env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let config = IngressConfig::from_lookup(&process_env)?;
    let aws = shared::aws::load_config().await;
    let ingress = Ingress::from_config(&aws, config).await;
    let ingress = &ingress;
    run(service_fn(move |request| ingress.handle(request))).await
}
