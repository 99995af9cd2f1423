//! AuthZEN subject, resource and action search over the entities the PDP knows.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::RequestError;
use crate::pdp::{Pdp, RequestTime};
use crate::request::{AccessRequest, Action, Subject};

/// Default number of results per page.
const DEFAULT_LIMIT: u32 = 50;
/// Largest page a caller may ask for.
const MAX_LIMIT: u32 = 1_000;
/// Candidates evaluated per page at most, so one call's cost is bounded;
/// a page may then hold fewer results than asked, with a token to go on.
const MAX_SCANNED: usize = 20_000;

/// Paging parameters of a search request (AuthZEN §8.2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page {
    /// Token from the previous response's `next_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Most results wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A subject or resource in a search: the searched side gives only its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchEntity {
    /// Entity type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Entity id; ignored on the searched side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Properties.
    #[schema(value_type = Object)]
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
}

/// A subject or resource search request (AuthZEN §8.4, §8.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntitySearch {
    /// The subject (only its type, for a subject search).
    pub subject: SearchEntity,
    /// The action.
    pub action: Action,
    /// The resource (only its type, for a resource search).
    pub resource: SearchEntity,
    /// Context.
    #[schema(value_type = Object)]
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    /// Paging.
    #[serde(default)]
    pub page: Page,
}

/// An action search request (AuthZEN §8.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionSearch {
    /// The subject.
    pub subject: Subject,
    /// The resource.
    pub resource: Subject,
    /// Context.
    #[schema(value_type = Object)]
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    /// Paging.
    #[serde(default)]
    pub page: Page,
}

/// One page of search results; `next_token` is empty on the last page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchPage<T> {
    /// What was found.
    pub results: Vec<T>,
    /// Token for the next page, or `""`.
    pub next_token: String,
}

/// Which side of an entity search varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Subject,
    Resource,
}

impl Pdp {
    /// Subjects of the given type that may perform the action on the resource.
    pub fn search_subjects(
        &self,
        search: &EntitySearch,
        time: &RequestTime,
    ) -> Result<SearchPage<Subject>, RequestError> {
        self.search_entities(search, Side::Subject, time)
    }

    /// Resources of the given type the subject may perform the action on.
    pub fn search_resources(
        &self,
        search: &EntitySearch,
        time: &RequestTime,
    ) -> Result<SearchPage<Subject>, RequestError> {
        self.search_entities(search, Side::Resource, time)
    }

    /// Actions the subject may perform on the resource.
    pub fn search_actions(
        &self,
        search: &ActionSearch,
        time: &RequestTime,
    ) -> Result<SearchPage<Action>, RequestError> {
        let principal = self.uid(&search.subject)?;
        let resource = self.uid(&search.resource)?;
        let query = query_digest(search)?;
        let resume = Resume::read(search.page.token.as_deref(), &query)?;
        let after = resume.after.clone();
        let mut names: Vec<String> = self
            .bundle()
            .schema
            .actions_for_principal_and_resource(principal.type_name(), resource.type_name())
            .map(|uid| uid.id().unescaped().to_owned())
            .filter(|name| after.as_deref().is_none_or(|a| name.as_str() > a))
            .collect();
        names.sort();
        names.dedup();
        let candidates = names.into_iter().map(|name| {
            let request = AccessRequest {
                subject: search.subject.clone(),
                action: Action {
                    name: name.clone(),
                    properties: Map::new(),
                },
                resource: search.resource.clone(),
                context: search.context.clone(),
            };
            (
                name.clone(),
                request,
                Action {
                    name,
                    properties: Map::new(),
                },
            )
        });
        self.collect_page(
            candidates.skip(resume.skip),
            &search.page,
            (&query, resume),
            time,
        )
    }

    fn search_entities(
        &self,
        search: &EntitySearch,
        side: Side,
        time: &RequestTime,
    ) -> Result<SearchPage<Subject>, RequestError> {
        let (searched, fixed) = match side {
            Side::Subject => (&search.subject, &search.resource),
            Side::Resource => (&search.resource, &search.subject),
        };
        let fixed = Subject {
            kind: fixed.kind.clone(),
            id: fixed.id.clone().ok_or_else(|| {
                RequestError::Malformed(format!(
                    "the {} needs an `id` in this search",
                    side.other()
                ))
            })?,
            properties: fixed.properties.clone(),
        };
        let probe = Subject {
            kind: searched.kind.clone(),
            id: String::new(),
            properties: Map::new(),
        };
        let ty = self.uid(&probe)?.type_name().clone();
        let query = query_digest(search)?;
        let resume = Resume::read(search.page.token.as_deref(), &query)?;
        let after = resume.after.clone();
        let candidates = self
            .snapshot()
            .ids_of_type(&ty, after.as_deref())
            .map(|id| {
                let found = Subject {
                    kind: searched.kind.clone(),
                    id: id.to_string(),
                    properties: Map::new(),
                };
                let (subject, resource) = match side {
                    Side::Subject => (found.clone(), fixed.clone()),
                    Side::Resource => (fixed.clone(), found.clone()),
                };
                let request = AccessRequest {
                    subject,
                    action: search.action.clone(),
                    resource,
                    context: search.context.clone(),
                };
                (id.to_string(), request, found)
            })
            .skip(resume.skip);
        self.collect_page(candidates, &search.page, (&query, resume), time)
    }

    /// Evaluates candidates in order until the page is full or the scan budget is spent.
    /// `resumed` is the query's digest and where the page starts.
    fn collect_page<T>(
        &self,
        candidates: impl Iterator<Item = (String, AccessRequest, T)>,
        page: &Page,
        (query, resumed): (&[u8], Resume),
        time: &RequestTime,
    ) -> Result<SearchPage<T>, RequestError> {
        let limit = page_limit(page)?;
        let mut results = Vec::new();
        // Where the next page starts: after the last result shown, past the
        // candidates scanned since (never naming one the caller may not see).
        let mut next = resumed;
        let mut candidates = candidates.peekable();
        let mut scanned = 0;
        for (key, request, found) in candidates.by_ref() {
            scanned += 1;
            if self.evaluate(&request, time)?.allowed {
                results.push(found);
                next = Resume {
                    after: Some(key),
                    skip: 0,
                };
            } else {
                next.skip += 1;
            }
            if results.len() == limit || scanned == MAX_SCANNED {
                break;
            }
        }
        let next_token = match candidates.peek() {
            Some(_) => next.write(query),
            None => String::new(),
        };
        Ok(SearchPage {
            results,
            next_token,
        })
    }
}

impl Side {
    fn other(self) -> &'static str {
        match self {
            Self::Subject => "resource",
            Self::Resource => "subject",
        }
    }
}

/// How many results a page holds: `page.limit` (1 to [`MAX_LIMIT`]; more is
/// served as [`MAX_LIMIT`]), [`DEFAULT_LIMIT`] without one. `0` is refused:
/// a page of nothing answers nothing.
fn page_limit(page: &Page) -> Result<usize, RequestError> {
    match page.limit {
        Some(0) => Err(RequestError::Malformed(format!(
            "page.limit must be 1 to {MAX_LIMIT}"
        ))),
        limit => Ok(limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize),
    }
}

/// Where a page starts: after the key of the last result shown (none: from
/// the first), past `skip` more candidates that were scanned and refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Resume {
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    #[serde(rename = "s", default)]
    skip: usize,
}

/// The bytes of a query a token is bound to.
const DIGEST_BYTES: usize = 12;

/// A digest of the search without its paging, which its tokens carry, so a
/// token is refused for any other search.
fn query_digest<S: Serialize>(search: &S) -> Result<Vec<u8>, RequestError> {
    let mut query = serde_json::to_value(search)
        .map_err(|e| RequestError::Malformed(format!("unreadable search: {e}")))?;
    if let Some(fields) = query.as_object_mut() {
        fields.remove("page");
    }
    let digest = Sha256::digest(query.to_string().as_bytes());
    Ok(digest[..DIGEST_BYTES].to_vec())
}

impl Resume {
    /// The token for this position in the search whose digest is `query`:
    /// opaque (base64url), bound to the query.
    fn write(&self, query: &[u8]) -> String {
        let mut bytes = query.to_vec();
        bytes.extend(serde_json::to_vec(self).unwrap_or_default());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Where `token` says to start, if it was issued for `query`.
    fn read(token: Option<&str>, query: &[u8]) -> Result<Self, RequestError> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(Self::default());
        };
        let invalid = |why: &str| RequestError::Malformed(format!("invalid page token: {why}"));
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| invalid("not one this PDP issued"))?;
        let (bound, position) = bytes
            .split_at_checked(DIGEST_BYTES)
            .ok_or_else(|| invalid("not one this PDP issued"))?;
        if bound != query {
            return Err(invalid("it belongs to another search"));
        }
        serde_json::from_slice(position).map_err(|_| invalid("not one this PDP issued"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_bound_to_their_query() {
        let query =
            query_digest(&serde_json::json!({"action": "read", "page": {"limit": 1}})).unwrap();
        let same =
            query_digest(&serde_json::json!({"action": "read", "page": {"limit": 9}})).unwrap();
        assert_eq!(query, same, "the paging is not part of the query");
        let resume = Resume {
            after: Some("nurse-ü".into()),
            skip: 3,
        };
        let token = resume.write(&query);
        assert_eq!(Resume::read(Some(&token), &query).unwrap(), resume);
        let other = query_digest(&serde_json::json!({"action": "write"})).unwrap();
        assert!(Resume::read(Some(&token), &other).is_err());
        assert!(Resume::read(Some("zz"), &query).is_err());
        assert_eq!(Resume::read(Some(""), &query).unwrap(), Resume::default());
        assert!(
            page_limit(&Page {
                token: None,
                limit: Some(0)
            })
            .is_err()
        );
        assert_eq!(
            page_limit(&Page {
                token: None,
                limit: Some(5000)
            })
            .unwrap(),
            1000
        );
    }
}
