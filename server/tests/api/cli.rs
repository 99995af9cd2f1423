//! The `hms-ach` command line, run as a user would.

use std::process::Command;

fn hms_ach(args: &[&str]) -> std::process::Output {
    hms_ach_with_env(args, &[])
}

fn hms_ach_with_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hms-ach"));
    command.args(args).env("HMS_ACH__LOG_FORMAT", "pretty");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[test]
fn policy_test_runs_the_hms_cases() {
    let out = hms_ach(&["policy", "test", hms_policies::CASES_DIR]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("125 passed, 0 failed"), "{stdout}");
}

#[test]
fn policy_validate_reports_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("schema.cedarschema"),
        "entity User; action view appliesTo { principal: User, resource: User };",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken.cedar"),
        "@id(\"ok\")\npermit (principal, action, resource)\nwhen { resource.nope };",
    )
    .unwrap();
    let out = hms_ach(&["policy", "validate", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.cedar:3:"), "{stderr}");
    assert!(stderr.contains("[ok]"), "{stderr}");
    let valid = hms_ach(&["policy", "validate"]);
    assert!(String::from_utf8_lossy(&valid.stdout).starts_with("valid: 22 policies"));
}

#[test]
fn tenants_and_clients_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().display());
    let created = hms_ach(&[
        "--database-url",
        &url,
        "tenant",
        "create",
        "acme",
        "--name",
        "Acme Hospital",
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let again = hms_ach(&["--database-url", &url, "tenant", "create", "acme"]);
    assert!(!again.status.success());
    let client = hms_ach(&[
        "--database-url",
        &url,
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "emr",
        "--scope",
        "pdp,admin",
    ]);
    let stdout = String::from_utf8_lossy(&client.stdout);
    assert!(stdout.contains("cl_") && stdout.contains('.'), "{stdout}");
    // The environment configures as well as the flag does.
    let listed = hms_ach_with_env(&["tenant", "list"], &[("HMS_ACH__DATABASE_URL", &url)]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("Acme Hospital"));
    let migrated = hms_ach(&["--database-url", &url, "migrate"]);
    assert!(String::from_utf8_lossy(&migrated.stdout).contains("1 tenant"));
    let unknown = hms_ach(&[
        "--database-url",
        &url,
        "client",
        "create",
        "--tenant",
        "nope",
        "--name",
        "x",
    ]);
    assert!(!unknown.status.success());
}
