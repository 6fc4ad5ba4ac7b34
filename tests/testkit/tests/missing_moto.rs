//! Without moto the harness says, in one line, how to install it. Its own test binary: it sets
//! a process-wide variable.

#[tokio::test]
#[should_panic(expected = "moto is not installed: run `make venv`")]
async fn missing_moto_says_how_to_install_it() {
    // SAFETY: the only test in this binary, so no other thread reads the environment.
    unsafe { std::env::set_var("MOTO_PYTHON", "/nonexistent/python3") };
    testkit::Moto::start().await;
}
