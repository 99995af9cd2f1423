//! Filtered, sorted, paged search: a SCIM filter compiled to SQL over the
//! search index, with the semantics of the in-memory evaluator
//! (`ne` is "no value equal", string comparisons on comparison keys in byte order).

use sqlx::AnyConnection;

use super::{ProvisioningError, ResourceRow, StoredResource, from_row};
use crate::protocol::error::ScimError;
use crate::protocol::filter::{CompareOp, Filter};
use crate::protocol::list::ListQuery;
use crate::protocol::path::AttrRef;
use crate::protocol::schema::ResourceType;

/// One page of results.
#[derive(Debug)]
pub struct Page {
    /// How many resources match in all.
    pub total: u64,
    /// The resources of this page.
    pub resources: Vec<StoredResource>,
}

#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// A WHERE clause under construction with its `$n` parameters.
struct Sql {
    dialect: Dialect,
    kind: &'static str,
    params: Vec<String>,
}

impl Sql {
    fn param(&mut self, value: impl Into<String>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    /// Byte-order comparison, whatever the database's collation.
    fn ordered(&self, column: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => column.to_owned(),
            Dialect::Postgres => format!("{column} COLLATE \"C\""),
        }
    }

    fn condition(&mut self, column: &str, op: CompareOp, literal: &str) -> String {
        match op {
            CompareOp::Eq | CompareOp::Ne => format!("{column} = {}", self.param(literal)),
            CompareOp::Gt => format!("{} > {}", self.ordered(column), self.param(literal)),
            CompareOp::Ge => format!("{} >= {}", self.ordered(column), self.param(literal)),
            CompareOp::Lt => format!("{} < {}", self.ordered(column), self.param(literal)),
            CompareOp::Le => format!("{} <= {}", self.ordered(column), self.param(literal)),
            CompareOp::Co => {
                let function = match self.dialect {
                    Dialect::Sqlite => "instr",
                    Dialect::Postgres => "strpos",
                };
                format!("{function}({column}, {}) > 0", self.param(literal))
            }
            CompareOp::Sw => {
                let (a, b) = (self.param(literal), self.param(literal));
                format!("substr({column}, 1, length({a})) = {b}")
            }
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

    /// The clause selecting resources (`r.id`) that match `filter`.
    fn resource(&mut self, filter: &Filter) -> Result<String, ScimError> {
        Ok(match filter {
            Filter::And(a, b) => format!("({} AND {})", self.resource(a)?, self.resource(b)?),
            Filter::Or(a, b) => format!("({} OR {})", self.resource(a)?, self.resource(b)?),
            Filter::Not(inner) => format!("NOT ({})", self.resource(inner)?),
            Filter::Present(r) if is_members(r) => {
                "r.id IN (SELECT group_id FROM group_members)".into()
            }
            Filter::Compare(r, op, literal) if is_members(r) => {
                member_value(r)?;
                let test = self.condition("staff_id", *op, literal);
                let negate = if *op == CompareOp::Ne { "NOT " } else { "" };
                format!("r.id {negate}IN (SELECT group_id FROM group_members WHERE {test})")
            }
            Filter::Element(r, inner) if is_members(r) => {
                let test = self.members_element(inner)?;
                format!("r.id IN (SELECT group_id FROM group_members WHERE {test})")
            }
            Filter::Present(r) => {
                let attr = self.param(r.key());
                format!(
                    "r.id IN (SELECT id FROM scim_index WHERE kind = '{}' AND attr = {attr})",
                    self.kind
                )
            }
            Filter::Compare(r, op, literal) => {
                let attr = self.param(r.key());
                let test = self.condition("value", *op, literal);
                let negate = if *op == CompareOp::Ne { "NOT " } else { "" };
                format!(
                    "r.id {negate}IN (SELECT id FROM scim_index WHERE kind = '{}' AND attr = {attr} AND {test})",
                    self.kind
                )
            }
            Filter::Element(r, inner) => {
                let marker = self.param(r.key());
                let test = self.element(inner)?;
                format!(
                    "r.id IN (SELECT e.id FROM scim_index e WHERE e.kind = '{}' AND e.attr = {marker} AND {test})",
                    self.kind
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
                    "EXISTS (SELECT 1 FROM scim_index s WHERE s.kind = e.kind AND s.id = e.id AND s.elem = e.elem AND s.attr = {attr})"
                )
            }
            Filter::Compare(r, op, literal) => {
                let attr = self.param(r.key());
                let test = self.condition("s.value", *op, literal);
                let negate = if *op == CompareOp::Ne { "NOT " } else { "" };
                format!(
                    "{negate}EXISTS (SELECT 1 FROM scim_index s WHERE s.kind = e.kind AND s.id = e.id AND s.elem = e.elem AND s.attr = {attr} AND {test})"
                )
            }
            Filter::Element(..) => {
                return Err(ScimError::invalid_filter("value filters do not nest"));
            }
        })
    }

    /// A `members[…]` filter over `group_members` rows.
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
                let test = self.condition("staff_id", *op, literal);
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
    let dialect = if conn.backend_name().eq_ignore_ascii_case("postgresql") {
        Dialect::Postgres
    } else {
        Dialect::Sqlite
    };
    let mut sql = Sql {
        dialect,
        kind: kind.name(),
        params: Vec::new(),
    };
    let filter = match &query.filter {
        Some(filter) => sql.resource(filter)?,
        None => "1 = 1".into(),
    };
    let count_sql = format!(
        "SELECT count(*) FROM scim_resources r WHERE r.kind = '{}' AND {filter}",
        sql.kind
    );
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for param in &sql.params {
        count = count.bind(param);
    }
    let total = count.fetch_one(&mut *conn).await?.max(0) as u64;
    if query.count == 0 || total < query.start_index {
        return Ok(Page {
            total,
            resources: Vec::new(),
        });
    }
    let order = match query.sort_by {
        Some(sort) => {
            let attr = sql.param(sort.key());
            let key = sql.ordered(&format!(
                "(SELECT min(value) FROM scim_index x WHERE x.kind = r.kind AND x.id = r.id AND x.attr = {attr})"
            ));
            let direction = if query.descending { "DESC" } else { "ASC" };
            format!("{key} {direction} NULLS LAST, r.id")
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
    let resources = rows
        .into_iter()
        .map(|row| from_row(kind, row))
        .collect::<Result<_, _>>()?;
    Ok(Page { total, resources })
}
