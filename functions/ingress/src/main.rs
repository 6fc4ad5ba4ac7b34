use identomat::config::process_env;
use ingress::{Ingress, IngressConfig};
use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    identomat::logging::init();
    let config = IngressConfig::from_lookup(&process_env)?;
    let aws = identomat::aws::load_config().await;
    let ingress = Ingress::from_config(&aws, config).await;
    let ingress = &ingress;
    run(service_fn(move |request| ingress.handle(request))).await
}
