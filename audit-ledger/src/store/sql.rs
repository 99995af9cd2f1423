//! Statements built with each database's own placeholders: `$1` for PostgreSQL,
//! `?` for SQLite (sqlx's `QueryBuilder` writes `?` for the `Any` driver, which
//! PostgreSQL refuses, and sqlx binds SQLite's `$N` by name, in quadratic time).

use std::fmt::Write;

use sqlx::any::AnyArguments;
use sqlx::query::{Query, QueryAs};
use sqlx::{Any, FromRow};

/// Which SQL dialect a tenant database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound value.
pub(crate) enum Param {
    Int(i64),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<String> for Param {
    fn from(value: String) -> Self {
        Self::Text(Some(value))
    }
}

impl From<Option<String>> for Param {
    fn from(value: Option<String>) -> Self {
        Self::Text(value)
    }
}

impl From<Vec<u8>> for Param {
    fn from(value: Vec<u8>) -> Self {
        Self::Bytes(Some(value))
    }
}

impl From<Option<Vec<u8>>> for Param {
    fn from(value: Option<Vec<u8>>) -> Self {
        Self::Bytes(value)
    }
}

/// SQL text with its parameters in placeholder order.
pub(crate) struct Statement {
    dialect: Dialect,
    sql: String,
    params: Vec<Param>,
}

impl Statement {
    /// Starts a statement with `sql`.
    pub(crate) fn new(dialect: Dialect, sql: &str) -> Self {
        Self {
            dialect,
            sql: sql.to_owned(),
            params: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder for `value`.
    pub(crate) fn bind(&mut self, value: impl Into<Param>) -> &mut Self {
        self.params.push(value.into());
        match self.dialect {
            Dialect::Postgres => {
                let _ = write!(self.sql, "${}", self.params.len());
            }
            Dialect::Sqlite => self.sql.push('?'),
        }
        self
    }

    /// Appends `(v1, v2, …)`.
    pub(crate) fn tuple(&mut self, values: Vec<Param>) -> &mut Self {
        self.push("(");
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(value);
        }
        self.push(")")
    }

    /// This statement followed by `next`, to run as one (SQLite only: its `?`
    /// placeholders are positional across statements).
    pub(crate) fn then(mut self, next: Statement) -> Self {
        self.sql.push_str(";\n");
        self.sql.push_str(&next.sql);
        self.params.extend(next.params);
        self
    }

    /// The statement, ready to execute.
    pub(crate) fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        self.params
            .iter()
            .fold(sqlx::query(&self.sql), |query, param| match param {
                Param::Int(value) => query.bind(*value),
                Param::Text(value) => query.bind(value.as_deref()),
                Param::Bytes(value) => query.bind(value.as_deref()),
            })
    }

    /// The statement, reading rows as `T`.
    pub(crate) fn query_as<T>(&self) -> QueryAs<'_, Any, T, AnyArguments<'_>>
    where
        T: for<'r> FromRow<'r, sqlx::any::AnyRow>,
    {
        self.params
            .iter()
            .fold(sqlx::query_as(&self.sql), |query, param| match param {
                Param::Int(value) => query.bind(*value),
                Param::Text(value) => query.bind(value.as_deref()),
                Param::Bytes(value) => query.bind(value.as_deref()),
            })
    }
}
