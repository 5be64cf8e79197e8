//! The keychain against a real Secret Service (gnome-keyring inside `dbus-run-session`, as
//! `make test` runs it), and the proof that secrets stay out of the tenants file, Debug output and
//! serialised payloads.
//!
//! Without a D-Bus session bus (a plain `cargo test` outside `make test`) these tests say so and
//! return; with one, the real store must work.

use firebreak_core::{
    paths::DataRoot,
    tenant::{self, AuthMethod, CredentialInput, ProfileDraft},
    vault::{SecretKind, Vault},
};
use firebreak_graph::{Cloud, ExposeSecret, SecretString};

fn secret_service() -> Option<Vault> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        // `make test` always provides a session bus with an unlocked keyring and sets this, so
        // there the keychain tests can never be skipped silently.
        assert!(
            std::env::var_os("FIREBREAK_REQUIRE_KEYCHAIN").is_none(),
            "FIREBREAK_REQUIRE_KEYCHAIN is set but there is no D-Bus session bus for the Secret Service"
        );
        eprintln!("no D-Bus session bus: keychain test skipped (run it through `make test`)");
        return None;
    }
    // A service name of its own per run, so runs never see each other's entries.
    Some(Vault::with_service(format!(
        "Firebreak-test-{}",
        uuid_like()
    )))
}

fn uuid_like() -> String {
    tenant::ProfileId::generate().to_string()
}

fn draft(method: AuthMethod) -> ProfileDraft {
    ProfileDraft {
        display_name: "Contoso".into(),
        tenant: "contoso.onmicrosoft.com".into(),
        cloud: Cloud::Worldwide,
        auth_method: method,
        client_id: "6e7b768e-07e2-4810-8459-485f84f8f204".into(),
        break_glass_upn: Some("breakglass@contoso.onmicrosoft.com".into()),
        signed_in_admin_upn: None,
        base_url: None,
    }
}

#[test]
fn a_secret_is_stored_read_and_deleted_in_the_real_keychain() {
    let Some(vault) = secret_service() else {
        return;
    };
    let id = tenant::ProfileId::generate();
    assert!(vault
        .read(&id, SecretKind::ClientSecret)
        .expect("read empty")
        .is_none());
    vault
        .store(
            &id,
            SecretKind::ClientSecret,
            &SecretString::from("s3cr3t~value".to_owned()),
        )
        .expect("store in the Secret Service");
    let back = vault
        .read(&id, SecretKind::ClientSecret)
        .expect("read")
        .expect("present");
    assert_eq!(back.expose_secret(), "s3cr3t~value");
    vault
        .store(
            &id,
            SecretKind::ClientSecret,
            &SecretString::from("rotated".to_owned()),
        )
        .expect("replace");
    assert_eq!(
        vault
            .read(&id, SecretKind::ClientSecret)
            .expect("read")
            .expect("present")
            .expose_secret(),
        "rotated"
    );
    vault.delete(&id, SecretKind::ClientSecret).expect("delete");
    assert!(vault
        .read(&id, SecretKind::ClientSecret)
        .expect("read after delete")
        .is_none());
    vault
        .delete(&id, SecretKind::ClientSecret)
        .expect("deleting twice is fine");
}

#[test]
fn a_profile_secret_lives_only_in_the_keychain() {
    let Some(vault) = secret_service() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let root = DataRoot::open(tmp.path()).expect("root");
    let secret = "Zx9~client-secret-never-on-disk";
    let profile = tenant::create_profile(
        &root,
        &vault,
        draft(AuthMethod::ClientSecret),
        CredentialInput::ClientSecret(SecretString::from(secret.to_owned())),
        chrono::Utc::now(),
    )
    .expect("create");

    let file = std::fs::read_to_string(root.tenants_file()).expect("tenants file");
    assert!(
        !file.contains(secret),
        "the secret must never be written to the tenants file"
    );
    let listed = serde_json::to_string(&tenant::list_profiles(&root).expect("list")).expect("json");
    assert!(!listed.contains(secret), "nor serialised towards the UI");
    assert!(!format!("{:?}", tenant::list_profiles(&root)).contains(secret));
    let input = CredentialInput::ClientSecret(SecretString::from(secret.to_owned()));
    assert!(
        !format!("{input:?}").contains(secret),
        "nor printed by Debug"
    );

    let stored = vault
        .read(&profile.id, SecretKind::ClientSecret)
        .expect("read")
        .expect("stored");
    assert_eq!(stored.expose_secret(), secret);

    tenant::delete_profile(&root, &vault, &profile.id).expect("delete");
    assert!(
        vault
            .read(&profile.id, SecretKind::ClientSecret)
            .expect("read")
            .is_none(),
        "deleting a profile deletes its secret"
    );
    assert_eq!(
        tenant::list_profiles(&root).expect("list").len(),
        1,
        "only the training tenant is left"
    );
}

#[test]
fn a_generated_certificate_keeps_its_key_in_the_keychain_and_exports_the_public_cer() {
    let Some(vault) = secret_service() else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let root = DataRoot::open(tmp.path()).expect("root");
    let profile = tenant::create_profile(
        &root,
        &vault,
        draft(AuthMethod::Certificate),
        CredentialInput::GenerateCertificate,
        chrono::Utc::now(),
    )
    .expect("create");
    let key = vault
        .read(&profile.id, SecretKind::CertificateKey)
        .expect("read")
        .expect("stored");
    assert!(key.expose_secret().contains("BEGIN PRIVATE KEY"));
    let file = std::fs::read_to_string(root.tenants_file()).expect("file");
    assert!(
        !file.contains("PRIVATE KEY"),
        "the private key never reaches the tenants file"
    );
    assert!(
        file.contains("BEGIN CERTIFICATE"),
        "the public certificate is kept for export"
    );
    let der = tenant::certificate_der(&root, &profile.id).expect("cer");
    assert_eq!(
        der.first(),
        Some(&0x30),
        "a DER certificate starts with a SEQUENCE"
    );
    tenant::delete_profile(&root, &vault, &profile.id).expect("delete");
    assert!(vault
        .read(&profile.id, SecretKind::CertificateKey)
        .expect("read")
        .is_none());
}
