//! A snapshot revised in place (entities added, replaced and removed) decides
//! exactly as one built from scratch over the same entities: ancestry follows
//! a removed or re-parented group, and a removed entity is no longer found.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use hms_authz::{
    AccessRequest, BundleSource, EntityRecord, EntityRef, EntitySnapshot, Pdp, PolicyBundle,
    PolicyFile, RequestTime,
};
use serde_json::json;

fn bundle() -> Arc<PolicyBundle> {
    let source = BundleSource {
        schema: "entity Group in [Group]; entity User in [Group]; entity Doc; \
                 action read appliesTo { principal: User, resource: Doc };"
            .into(),
        policies: vec![PolicyFile {
            name: "top.cedar".into(),
            text: "@id(\"top-reads\")\npermit (principal in Group::\"top\", action, resource);"
                .into(),
        }],
        options: Default::default(),
    };
    Arc::new(PolicyBundle::compile(source).unwrap())
}

fn uid(kind: &str, id: &str) -> EntityRef {
    EntityRef {
        kind: kind.into(),
        id: id.into(),
    }
}

fn entity(kind: &str, id: &str, parents: &[&str]) -> EntityRecord {
    EntityRecord {
        uid: uid(kind, id),
        attrs: Default::default(),
        parents: parents.iter().map(|p| uid("Group", p)).collect(),
    }
}

fn may_read(bundle: &Arc<PolicyBundle>, snapshot: EntitySnapshot) -> bool {
    let request: AccessRequest = serde_json::from_value(json!({
        "subject": {"type": "User", "id": "u"},
        "action": {"name": "read"},
        "resource": {"type": "Doc", "id": "d"}
    }))
    .unwrap();
    let time = RequestTime {
        utc: "2026-01-01T00:00:00Z".into(),
        local_hour: 0,
    };
    let pdp = Pdp::new(Arc::clone(bundle), Arc::new(snapshot));
    pdp.evaluate(&request, &time).unwrap().allowed
}

#[test]
fn removing_or_reparenting_a_group_is_followed_by_its_members() {
    let bundle = bundle();
    let all = || {
        [
            entity("User", "u", &["mid"]),
            entity("Group", "mid", &["top"]),
            entity("Group", "top", &[]),
            entity("Doc", "d", &[]),
        ]
    };
    assert!(may_read(
        &bundle,
        EntitySnapshot::build(all(), &bundle).unwrap()
    ));
    let built = EntitySnapshot::build(all(), &bundle).unwrap();
    assert_eq!(built.len(), 4);

    let without_mid = built.revised([], &[uid("Group", "mid")], &bundle).unwrap();
    assert_eq!(without_mid.len(), 3);
    let without_mid_again = built.revised([], &[uid("Group", "mid")], &bundle).unwrap();
    assert!(!may_read(&bundle, without_mid_again));

    let mid_alone = built
        .revised([entity("Group", "mid", &[])], &[], &bundle)
        .unwrap();
    assert!(!may_read(&bundle, mid_alone));

    let back = without_mid
        .revised([entity("Group", "mid", &["top"])], &[], &bundle)
        .unwrap();
    assert!(may_read(&bundle, back));

    // A member removed is gone; one never held is ignored.
    let no_user = built
        .revised([], &[uid("User", "u"), uid("User", "ghost")], &bundle)
        .unwrap();
    assert_eq!(no_user.len(), 3);
    assert!(!may_read(&bundle, no_user));
}

#[test]
fn a_parent_removed_in_the_batch_that_names_it_gives_no_ancestry() {
    let bundle = bundle();
    let groups = EntitySnapshot::build(
        [
            entity("Group", "mid", &["top"]),
            entity("Group", "top", &[]),
            entity("Doc", "d", &[]),
        ],
        &bundle,
    )
    .unwrap();
    let revised = groups
        .revised(
            [entity("User", "u", &["mid"])],
            &[uid("Group", "mid")],
            &bundle,
        )
        .unwrap();
    assert!(!may_read(&bundle, revised));
}
