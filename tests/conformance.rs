//! docker-credential-file against the real docker-credential-secretservice, case by case.

use harness::conformance::{GoSecretService, check};
use harness::helpers::FileHelper;
use harness::secret_service::SecretService;

#[test]
fn file_helper_conforms_to_the_go_helpers() {
    let ss = SecretService::start();
    let reference = GoSecretService::new(&ss);
    check(&FileHelper::new(), &reference);
}

#[test]
fn keyring_helper_conforms_to_the_go_helpers() {
    // Two keyrings: each helper's steps must see only its own items.
    let (ours, theirs) = (SecretService::start(), SecretService::start());
    check(&harness::helpers::KeyringHelper::new(&ours), &GoSecretService::new(&theirs));
}

#[test]
fn vault_helper_conforms_to_the_go_helpers_when_unlocked() {
    let ss = SecretService::start();
    check(&harness::helpers::VaultHelper::unlocked(), &GoSecretService::new(&ss));
}
