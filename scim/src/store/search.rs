//! Filtered, sorted, paged search: a SCIM filter compiled to SQL over the
//! search index, with the semantics of the in-memory evaluator (`ne` is "no
//! value equal"; string comparisons on comparison keys, in byte order on both
//! backends).
//!
//! Each condition is a correlated `EXISTS` on the resource's own index rows (a
//! point lookup). A necessary condition chosen from the filter is added as an
//! uncorrelated `IN` over the `(kind, attr, value)` index, which drives the
//! query from the rows of one attribute instead of from every resource.

use sqlx::AnyConnection;

use super::{ProvisioningError, ResourceRow, StoredResource, from_row};
use crate::protocol::error::ScimError;
use crate::protocol::filter::{CompareOp, Filter};
use crate::protocol::list::ListQuery;
use crate::protocol::path::AttrRef;
use crate::protocol::schema::{AttrType, ResourceType};

/// One page of results.
#[derive(Debug)]
pub struct Page {
    /// How many resources match in all.
    pub total: u64,
    /// The resources of this page.
    pub resources: Vec<StoredResource>,
}

/// `text` with LIKE's wildcards and escape character taken literally.
fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A WHERE clause under construction with its `$n` parameters.
struct Sql {
    postgres: bool,
    kind: &'static str,
    params: Vec<String>,
}

impl Sql {
    fn param(&mut self, value: impl Into<String>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    fn condition(&mut self, column: &str, op: CompareOp, literal: &str) -> String {
        match op {
            CompareOp::Eq | CompareOp::Ne => format!("{column} = {}", self.param(literal)),
            CompareOp::Gt => format!("{column} > {}", self.param(literal)),
            CompareOp::Ge => format!("{column} >= {}", self.param(literal)),
            CompareOp::Lt => format!("{column} < {}", self.param(literal)),
            CompareOp::Le => format!("{column} <= {}", self.param(literal)),
            // PostgreSQL: a LIKE, which the trigram index serves where pg_trgm is installed.
            CompareOp::Co if self.postgres => {
                let pattern = format!("%{}%", like_escaped(literal));
                format!("{column} LIKE {} ESCAPE '\\'", self.param(pattern))
            }
            CompareOp::Co => format!("instr({column}, {}) > 0", self.param(literal)),
            // Strings with a prefix are exactly those from it up to its successor.
            CompareOp::Sw => match prefix_successor(literal) {
                Some(upper) => format!(
                    "{column} >= {} AND {column} < {}",
                    self.param(literal),
                    self.param(upper)
                ),
                None => format!("{column} >= {}", self.param(literal)),
            },
            CompareOp::Ew => {
                let (a, b, c) = (
                    self.param(literal),
                    self.param(literal),
                    self.param(literal),
                );
                format!(
                    "length({column}) >= length({a}) AND substr({column}, length({column}) - length({b}) + 1) = {c}"
                )
            }
        }
    }

    /// Index rows of the resource `r` for `attr`, with an extra condition.
    fn own_rows(&mut self, attr: &AttrRef, alias: &str, extra: &str) -> String {
        let key = self.param(attr.key());
        format!(
            "SELECT 1 FROM scim_index {alias} WHERE {alias}.kind = '{}' AND {alias}.id = r.id AND {alias}.attr = {key}{extra}",
            self.kind
        )
    }

    /// The clause selecting resources (`r.id`) that match `filter`.
    fn resource(&mut self, filter: &Filter) -> Result<String, ScimError> {
        Ok(match filter {
            Filter::And(a, b) => format!("({} AND {})", self.resource(a)?, self.resource(b)?),
            Filter::Or(a, b) => format!("({} OR {})", self.resource(a)?, self.resource(b)?),
            Filter::Not(inner) => format!("NOT ({})", self.resource(inner)?),
            Filter::Present(r) if is_members(r) => {
                "EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = r.id)".into()
            }
            Filter::Compare(r, op, literal) if is_members(r) => {
                member_value(r)?;
                let test = self.condition("m.staff_id", *op, literal);
                let negate = if *op == CompareOp::Ne { "NOT " } else { "" };
                format!(
                    "{negate}EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = r.id AND {test})"
                )
            }
            Filter::Element(r, inner) if is_members(r) => {
                let test = self.members_element(inner)?;
                format!("EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = r.id AND {test})")
            }
            Filter::Present(r) => format!("EXISTS ({})", self.own_rows(r, "x", "")),
            Filter::Compare(r, op, literal) => {
                let test = self.condition("x.value", *op, literal);
                let negate = if *op == CompareOp::Ne { "NOT " } else { "" };
                format!(
                    "{negate}EXISTS ({})",
                    self.own_rows(r, "x", &format!(" AND {test}"))
                )
            }
            Filter::Element(r, inner) => {
                let test = self.element(inner)?;
                format!(
                    "EXISTS ({})",
                    self.own_rows(r, "e", &format!(" AND {test}"))
                )
            }
        })
    }

    /// The clause selecting elements `e` of a multi-valued attribute.
    fn element(&mut self, filter: &Filter) -> Result<String, ScimError> {
        Ok(match filter {
            Filter::And(a, b) => format!("({} AND {})", self.element(a)?, self.element(b)?),
            Filter::Or(a, b) => format!("({} OR {})", self.element(a)?, self.element(b)?),
            Filter::Not(inner) => format!("NOT ({})", self.element(inner)?),
            Filter::Present(r) => {
                let attr = self.param(r.key());
                format!(
                    "EXISTS (SELECT 1 FROM scim_index s WHERE s.kind = e.kind AND s.id = e.id AND s.attr = {attr} AND s.elem = e.elem)"
                )
            }
            Filter::Compare(r, op, literal) => {
                let attr = self.param(r.key());
                let test = self.condition("s.value", *op, literal);
                let negate = if *op == CompareOp::Ne { "NOT " } else { "" };
                format!(
                    "{negate}EXISTS (SELECT 1 FROM scim_index s WHERE s.kind = e.kind AND s.id = e.id AND s.attr = {attr} AND s.elem = e.elem AND {test})"
                )
            }
            Filter::Element(..) => {
                return Err(ScimError::invalid_filter("value filters do not nest"));
            }
        })
    }

    /// A `members[…]` filter over `group_members` rows `m`.
    fn members_element(&mut self, filter: &Filter) -> Result<String, ScimError> {
        Ok(match filter {
            Filter::And(a, b) => format!(
                "({} AND {})",
                self.members_element(a)?,
                self.members_element(b)?
            ),
            Filter::Or(a, b) => format!(
                "({} OR {})",
                self.members_element(a)?,
                self.members_element(b)?
            ),
            Filter::Not(inner) => format!("NOT ({})", self.members_element(inner)?),
            Filter::Present(r) => {
                member_value(r)?;
                "1 = 1".into()
            }
            Filter::Compare(r, op, literal) => {
                member_value(r)?;
                let test = self.condition("m.staff_id", *op, literal);
                if *op == CompareOp::Ne {
                    format!("NOT ({test})")
                } else {
                    test
                }
            }
            Filter::Element(..) => {
                return Err(ScimError::invalid_filter("value filters do not nest"));
            }
        })
    }

    /// A necessary condition that reads only the index rows of the attributes
    /// it names (uncorrelated `r.id IN (…)`), so a query is driven from those
    /// rows rather than by a lookup per resource: for a conjunction, its most
    /// selective member's; for a disjunction, both sides' when both have one.
    fn driver(&mut self, filter: &Filter) -> Option<String> {
        match filter {
            Filter::Or(a, b) => {
                let (a, b) = (self.driver(a)?, self.driver(b)?);
                Some(format!("({a} OR {b})"))
            }
            _ => {
                let mut conjuncts = Vec::new();
                conjunction(filter, &mut conjuncts);
                let (attr, op, literal) = conjuncts
                    .iter()
                    .flat_map(|f| drivable(f))
                    .min_by_key(|(attr, op, _)| selectivity(attr, *op))?;
                Some(self.index_scan(&attr, op, literal))
            }
        }
    }

    fn index_scan(&mut self, attr: &AttrRef, op: Option<CompareOp>, literal: &str) -> String {
        if is_members(attr) {
            let test = match op {
                Some(op) => self.condition("staff_id", op, literal),
                None => "1 = 1".into(),
            };
            return format!("r.id IN (SELECT group_id FROM group_members WHERE {test})");
        }
        let key = self.param(attr.key());
        let test = match op {
            Some(op) => format!(" AND {}", self.condition("value", op, literal)),
            None => String::new(),
        };
        format!(
            "r.id IN (SELECT id FROM scim_index WHERE kind = '{}' AND attr = {key}{test})",
            self.kind
        )
    }
}

fn conjunction<'a>(filter: &'a Filter, out: &mut Vec<&'a Filter>) {
    match filter {
        Filter::And(a, b) => {
            conjunction(a, out);
            conjunction(b, out);
        }
        other => out.push(other),
    }
}

/// Positive conditions (no `ne`, no `not`) every match must meet, at the top
/// level or inside a value filter; `None` as operator means presence.
fn drivable(filter: &Filter) -> Vec<(AttrRef, Option<CompareOp>, &str)> {
    match filter {
        Filter::Compare(r, op, literal) if *op != CompareOp::Ne => {
            vec![(*r, Some(*op), literal.as_str())]
        }
        Filter::Present(r) => vec![(*r, None, "")],
        Filter::Element(_, inner) => {
            let mut conjuncts = Vec::new();
            conjunction(inner, &mut conjuncts);
            conjuncts.into_iter().flat_map(drivable).collect()
        }
        _ => Vec::new(),
    }
}

/// How few rows a condition is expected to match, lower first: equality and
/// prefix on identifiers (unique attributes, `id`, `externalId`, the `value` of
/// a multi-valued attribute), then on other attributes, then the rest, which
/// scan one attribute's rows; booleans and attributes with a few canonical
/// values (`type`) last.
fn selectivity(attr: &AttrRef, op: Option<CompareOp>) -> u8 {
    let leaf = attr.leaf();
    if leaf.kind == AttrType::Boolean || !leaf.canonical_values.is_empty() {
        return 9;
    }
    let identifier = leaf.unique || leaf.case_exact || leaf.name == "value";
    match (identifier, op) {
        (true, Some(CompareOp::Eq)) => 0,
        (true, Some(CompareOp::Sw)) => 1,
        (false, Some(CompareOp::Eq)) => 2,
        (false, Some(CompareOp::Sw)) => 3,
        (_, Some(_)) => 4,
        (_, None) => 5,
    }
}

/// The least string greater than every string starting with `prefix`
/// (byte order is code-point order in UTF-8); `None` when there is none.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn is_members(r: &AttrRef) -> bool {
    r.attr.name == "members"
}

fn member_value(r: &AttrRef) -> Result<(), ScimError> {
    match r.sub {
        Some(sub) if sub.name == "value" => Ok(()),
        _ => Err(ScimError::invalid_filter(
            "Group members are filtered by `members.value` only",
        )),
    }
}

/// The page of `kind` resources `query` asks for.
pub async fn search(
    conn: &mut AnyConnection,
    kind: ResourceType,
    query: &ListQuery,
) -> Result<Page, ProvisioningError> {
    let mut sql = Sql {
        postgres: conn.backend_name().eq_ignore_ascii_case("postgresql"),
        kind: kind.name(),
        params: Vec::new(),
    };
    let filter = match &query.filter {
        Some(filter) => {
            let condition = sql.resource(filter)?;
            match sql.driver(filter) {
                Some(driver) => format!("{driver} AND {condition}"),
                None => condition,
            }
        }
        None => "1 = 1".into(),
    };
    let count_sql = format!(
        "SELECT count(*) FROM scim_resources r WHERE r.kind = '{}' AND {filter}",
        sql.kind
    );
    if query.count == 0 {
        let total = count_matches(conn, &count_sql, &sql.params).await?;
        return Ok(Page {
            total,
            resources: Vec::new(),
        });
    }
    let order = match query.sort_by {
        Some(sort) => {
            let attr = sql.param(sort.key());
            let direction = if query.descending { "DESC" } else { "ASC" };
            format!(
                "(SELECT min(value) FROM scim_index x WHERE x.kind = r.kind AND x.id = r.id AND x.attr = {attr}) {direction} NULLS LAST, r.id"
            )
        }
        None => "r.id".into(),
    };
    let page_sql = format!(
        "SELECT r.id, r.document, r.version, r.created_at, r.updated_at FROM scim_resources r \
         WHERE r.kind = '{}' AND {filter} ORDER BY {order} LIMIT {} OFFSET {}",
        sql.kind,
        query.count,
        query.start_index - 1
    );
    let mut page = sqlx::query_as::<_, ResourceRow>(&page_sql);
    for param in &sql.params {
        page = page.bind(param);
    }
    let rows = page.fetch_all(&mut *conn).await?;
    // A page that is neither full nor past the end is the last one: the total
    // follows from it, and the count (a second query) is not needed.
    let shown = rows.len() as u64;
    let total = if shown < query.count && (shown > 0 || query.start_index == 1) {
        query.start_index - 1 + shown
    } else {
        // The sort key, if any, was bound after the filter's parameters.
        let filter_params = &sql.params[..sql.params.len() - usize::from(query.sort_by.is_some())];
        count_matches(conn, &count_sql, filter_params).await?
    };
    let resources = rows
        .into_iter()
        .map(|row| from_row(kind, row))
        .collect::<Result<_, _>>()?;
    Ok(Page { total, resources })
}

/// How many resources a filter's count query finds.
async fn count_matches(
    conn: &mut AnyConnection,
    count_sql: &str,
    params: &[String],
) -> Result<u64, ProvisioningError> {
    let mut count = sqlx::query_scalar::<_, i64>(count_sql);
    for param in params {
        count = count.bind(param);
    }
    Ok(count.fetch_one(&mut *conn).await?.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::prefix_successor;

    #[test]
    fn prefix_successors_bound_exactly_the_strings_with_the_prefix() {
        assert_eq!(prefix_successor("user01").as_deref(), Some("user02"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        assert_eq!(prefix_successor(""), None);
    }
}
