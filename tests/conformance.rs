//! docker-credential-file against the real docker-credential-secretservice, case by case.

use harness::conformance::{check, GoSecretService};
use harness::helpers::FileHelper;
use harness::secret_service::SecretService;

#[test]
fn file_helper_conforms_to_the_go_helpers() {
    let ss = SecretService::start();
    let reference = GoSecretService::new(&ss);
    check(&FileHelper::new(), &reference);
}
