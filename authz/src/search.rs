//! AuthZEN subject, resource and action search over the entities the PDP knows.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
        let after = decode_token(search.page.token.as_deref())?;
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
        self.collect_page(candidates, &search.page, time)
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
        let after = decode_token(search.page.token.as_deref())?;
        let candidates = self
            .snapshot()
            .ids_of_type(&ty, after.as_deref())
            .map(|id| {
                let found = Subject {
                    kind: searched.kind.clone(),
                    id: id.clone(),
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
                (id.clone(), request, found)
            });
        self.collect_page(candidates, &search.page, time)
    }

    /// Evaluates candidates in order until the page is full or the scan budget is spent.
    fn collect_page<T>(
        &self,
        candidates: impl Iterator<Item = (String, AccessRequest, T)>,
        page: &Page,
        time: &RequestTime,
    ) -> Result<SearchPage<T>, RequestError> {
        let limit = page.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as usize;
        let mut results = Vec::new();
        let mut last_key = None;
        let mut candidates = candidates.peekable();
        let mut scanned = 0;
        for (key, request, found) in candidates.by_ref() {
            scanned += 1;
            if self.evaluate(&request, time)?.allowed {
                results.push(found);
            }
            last_key = Some(key);
            if results.len() == limit || scanned == MAX_SCANNED {
                break;
            }
        }
        let next_token = match (candidates.peek(), last_key) {
            (Some(_), Some(key)) => encode_token(&key),
            _ => String::new(),
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

/// Page tokens are the hex encoding of the last key seen.
fn encode_token(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: Option<&str>) -> Result<Option<String>, RequestError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let invalid = || RequestError::Malformed("invalid page token".into());
    if token.len() % 2 != 0 {
        return Err(invalid());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(invalid)
        })
        .collect::<Result<Vec<u8>, _>>()?;
    String::from_utf8(bytes).map(Some).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let token = encode_token("nurse-ü");
        assert_eq!(
            decode_token(Some(&token)).unwrap().as_deref(),
            Some("nurse-ü")
        );
        assert!(decode_token(Some("zz")).is_err());
        assert_eq!(decode_token(Some("")).unwrap(), None);
    }
}
