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
    assert!(stdout.contains("138 passed, 0 failed"), "{stdout}");
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
    assert!(String::from_utf8_lossy(&valid.stdout).starts_with("valid: 25 policies"));
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

#[test]
fn a_ledger_is_verified_online_and_its_export_offline_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().display());
    let run = |args: &[&str]| {
        let out = hms_ach(&[&["--database-url", url.as_str()], args].concat());
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(run(&["tenant", "create", "acme"]).0, Some(0));
    assert_eq!(
        run(&["client", "create", "--tenant", "acme", "--name", "emr"]).0,
        Some(0)
    );
    let (code, keys) = run(&["ledger", "keys", "--tenant", "acme"]);
    assert_eq!(code, Some(0));
    let vkey = keys.split_whitespace().next().unwrap().to_owned();
    assert!(vkey.starts_with("hms-ach/acme+"), "{keys}");

    let (code, online) = run(&["ledger", "verify", "--tenant", "acme"]);
    assert_eq!(code, Some(0), "{online}");
    assert!(
        online.contains("3 entries") && online.contains("OK"),
        "{online}"
    );

    let bundle = dir.path().join("acme.jsonl");
    let bundle_path = bundle.to_str().unwrap();
    assert_eq!(
        run(&["ledger", "export", "--tenant", "acme", "--out", bundle_path]).0,
        Some(0)
    );
    let offline = hms_ach(&["ledger", "verify", "--bundle", bundle_path, "--key", &vkey]);
    let report = String::from_utf8_lossy(&offline.stdout);
    assert_eq!(offline.status.code(), Some(0), "{report}");
    assert!(report.contains("OK: the ledger verifies"), "{report}");

    let text = std::fs::read_to_string(&bundle).unwrap();
    std::fs::write(
        &bundle,
        text.replacen("\"name\":\"emr\"", "\"name\":\"emR\"", 1),
    )
    .unwrap();
    let tampered = hms_ach(&["ledger", "verify", "--bundle", bundle_path, "--key", &vkey]);
    let report = String::from_utf8_lossy(&tampered.stdout);
    assert_eq!(tampered.status.code(), Some(1), "{report}");
    assert!(report.contains("PROBLEM entry 2"), "{report}");
    let no_key = hms_ach(&["ledger", "verify", "--bundle", bundle_path]);
    assert!(!no_key.status.success());

    assert_eq!(
        run(&["ledger", "rotate-key", "--tenant", "acme"]).0,
        Some(0)
    );
    let (_, keys) = run(&["ledger", "keys", "--tenant", "acme"]);
    assert!(
        keys.contains("retired") && keys.contains("active"),
        "{keys}"
    );
    let (code, online) = run(&["ledger", "verify", "--tenant", "acme"]);
    assert_eq!(code, Some(0), "{online}");
}

#[test]
fn a_report_from_the_command_line_names_a_checkpoint_an_auditor_can_find_in_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().display());
    let run = |args: &[&str]| {
        let out = hms_ach(&[&["--database-url", url.as_str()], args].concat());
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["tenant", "create", "acme"]);
    let csv = dir.path().join("changes.csv");
    run(&[
        "report",
        "role-changes",
        "--tenant",
        "acme",
        "--format",
        "csv",
        "--out",
        csv.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("time,event,subject,by,source,roles_added"),
        "{text}"
    );
    assert!(text.contains("policy.install"), "{text}");

    let integrity: serde_json::Value =
        serde_json::from_str(&run(&["report", "ledger-integrity", "--tenant", "acme"])).unwrap();
    let verdict = integrity["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().starts_with("Verdict: intact"));
    assert!(verdict, "{integrity}");
    let signature = integrity["source"]["checkpoint"]
        .as_str()
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();

    let bundle = dir.path().join("acme.jsonl");
    run(&[
        "ledger",
        "export",
        "--tenant",
        "acme",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    let exported = std::fs::read_to_string(&bundle).unwrap();
    assert!(
        exported.contains(&signature),
        "the report's checkpoint is in the export"
    );
    assert_eq!(
        exported.matches("report.pull").count(),
        2,
        "both pulls are recorded"
    );
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `hms-ach witness serve` until dropped.
struct WitnessProcess(std::process::Child);

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_witness(args: &[&str], port: u16) -> WitnessProcess {
    let child = Command::new(env!("CARGO_BIN_EXE_hms-ach"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the witness did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    WitnessProcess(child)
}

#[test]
fn a_witness_cosigns_from_the_command_line_and_verify_holds_the_ledger_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let url = format!("sqlite://{}", dir.path().display());
    let output = |args: &[&str]| {
        let out = hms_ach(args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    };
    assert_eq!(
        output(&["--database-url", &url, "tenant", "create", "acme"]).0,
        Some(0)
    );
    let (_, keys) = output(&["--database-url", &url, "ledger", "keys", "--tenant", "acme"]);
    let vkey = keys.split_whitespace().next().unwrap().to_owned();
    let (code, wvkey) = output(&[
        "witness",
        "keygen",
        "--name",
        "witness.test/w1",
        "--key-file",
        &path("w1.key"),
    ]);
    assert_eq!(code, Some(0), "{wvkey}");
    let wvkey = wvkey.trim().to_owned();
    assert!(wvkey.starts_with("witness.test/w1+"), "{wvkey}");
    let port = free_port();
    let witness_url = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let _witness = start_witness(
        &[
            "witness",
            "serve",
            "--listen",
            &listen,
            "--name",
            "witness.test/w1",
            "--key-file",
            &path("w1.key"),
            "--state-file",
            &path("w1.json"),
            "--log",
            &vkey,
        ],
        port,
    );
    let config = path("hms-ach.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{url}\"\n[[ledger.witnesses]]\nurl = \"{witness_url}\"\nkey = \"{wvkey}\"\n"
        ),
    )
    .unwrap();
    let with_config = |args: &[&str]| output(&[&["--config", config.as_str()], args].concat());
    let (code, cosigned) = with_config(&["ledger", "witness", "--tenant", "acme"]);
    assert_eq!(code, Some(0), "{cosigned}");
    assert!(
        cosigned.contains("witness.test/w1 cosigned size 2"),
        "{cosigned}"
    );

    let verify = |extra: &[&str]| {
        with_config(
            &[
                &[
                    "ledger",
                    "verify",
                    "--tenant",
                    "acme",
                    "--witness-key",
                    &wvkey,
                ],
                extra,
            ]
            .concat(),
        )
    };
    let (code, report) = verify(&["--ask-witness", &witness_url]);
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("OK: the ledger verifies"), "{report}");

    // A checkpoint saved now must still be held later, after more entries.
    let bundle = path("acme.jsonl");
    assert_eq!(
        with_config(&["ledger", "export", "--tenant", "acme", "--out", &bundle]).0,
        Some(0)
    );
    let last_note = std::fs::read_to_string(&bundle)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .rfind(|line| line["type"] == "checkpoint")
        .unwrap()["note"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(path("saved.note"), &last_note).unwrap();
    assert_eq!(
        with_config(&["client", "create", "--tenant", "acme", "--name", "emr"]).0,
        Some(0)
    );
    let (code, report) = verify(&["--since", &path("saved.note")]);
    assert_eq!(code, Some(0), "{report}");
    let offline = output(&[
        "ledger",
        "verify",
        "--bundle",
        &bundle,
        "--key",
        &vkey,
        "--witness-key",
        &wvkey,
        "--since",
        &path("saved.note"),
    ]);
    assert_eq!(offline.0, Some(0), "{}", offline.1);
    // A saved note the ledger does not hold is refused.
    let mut lines: Vec<&str> = last_note.split('\n').collect();
    lines[1] = "999";
    let forged = lines.join("\n");
    std::fs::write(path("forged.note"), forged).unwrap();
    let (code, report) = verify(&["--since", &path("forged.note")]);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains("the saved checkpoint does not verify"),
        "{report}"
    );
}
