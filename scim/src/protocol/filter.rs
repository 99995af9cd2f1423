//! SCIM filters (RFC 7644 §3.4.2.2): the full grammar, parsed into a tree whose
//! attribute paths are resolved against the schema, and evaluated in memory.
//!
//! Also accepted, because real clients send them: operators and keywords in
//! any case (`EQ`, `And`), URN-qualified paths, and Microsoft Entra ID's
//! `emails[type eq "work"].value eq "…"`, read as one element that matches both.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::path::{AttrRef, comparison_key};
use super::schema::{AttrType, ResourceType, Returned};

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// The deepest nesting of `not`, parentheses and brackets accepted.
const MAX_DEPTH: usize = 32;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal: no value is equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }

    /// Whether `stored` satisfies this operator against `literal` (both comparison keys).
    /// `Ne` is evaluated as "not any equal" by callers; here it is plain inequality.
    pub fn holds(self, stored: &str, literal: &str) -> bool {
        match self {
            Self::Eq => stored == literal,
            Self::Ne => stored != literal,
            Self::Co => stored.contains(literal),
            Self::Sw => stored.starts_with(literal),
            Self::Ew => stored.ends_with(literal),
            Self::Gt => stored > literal,
            Self::Ge => stored >= literal,
            Self::Lt => stored < literal,
            Self::Le => stored <= literal,
        }
    }
}

/// A parsed, resolved filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// The inner filter does not hold.
    Not(Box<Filter>),
    /// The attribute has a non-empty value.
    Present(AttrRef),
    /// Some value of the attribute compares true; for `ne`, none is equal.
    Compare(AttrRef, CompareOp, String),
    /// Some element of a multi-valued attribute satisfies the inner filter,
    /// whose paths are that attribute's sub-attributes.
    Element(AttrRef, Box<Filter>),
}

/// Where a filter's attribute names are resolved.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Top-level attributes of a resource.
    Resource(ResourceType),
    /// Sub-attributes of one multi-valued attribute, inside `[…]`.
    Element(AttrRef),
}

impl Filter {
    /// Parses a filter over a resource type's attributes.
    pub fn parse(resource: ResourceType, text: &str) -> Result<Self, ScimError> {
        parse_in(Scope::Resource(resource), text)
    }

    /// Whether a whole resource document matches.
    pub fn matches(&self, doc: &Map<String, Value>) -> bool {
        match self {
            Self::And(a, b) => a.matches(doc) && b.matches(doc),
            Self::Or(a, b) => a.matches(doc) || b.matches(doc),
            Self::Not(inner) => !inner.matches(doc),
            Self::Present(r) => r.leaf_values(doc).into_iter().any(non_empty),
            Self::Compare(r, op, literal) => compare_any(r, r.leaf_values(doc), *op, literal),
            Self::Element(r, inner) => match r.get(doc) {
                Some(Value::Array(items)) => items.iter().any(|item| inner.matches_element(item)),
                _ => false,
            },
        }
    }

    /// Whether one element of a multi-valued attribute matches (the filter of `attr[…]`).
    pub fn matches_element(&self, element: &Value) -> bool {
        match self {
            Self::And(a, b) => a.matches_element(element) && b.matches_element(element),
            Self::Or(a, b) => a.matches_element(element) || b.matches_element(element),
            Self::Not(inner) => !inner.matches_element(element),
            Self::Present(r) => sub_value(r, element).is_some_and(non_empty),
            Self::Compare(r, op, literal) => {
                compare_any(r, sub_value(r, element).into_iter().collect(), *op, literal)
            }
            Self::Element(..) => false,
        }
    }
}

/// Parses a filter in a scope: a resource, or the inside of `attr[…]`.
pub fn parse_in(scope: Scope, text: &str) -> Result<Filter, ScimError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "a filter is at most {MAX_FILTER_LEN} bytes"
        )));
    }
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
    };
    let filter = parser.or_expr(scope)?;
    match parser.peek() {
        None => Ok(filter),
        Some(token) => Err(ScimError::invalid_filter(format!(
            "unexpected {} after a complete filter",
            token.describe()
        ))),
    }
}

fn sub_value<'a>(r: &AttrRef, element: &'a Value) -> Option<&'a Value> {
    element.get(r.sub?.name)
}

fn non_empty(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => map.values().any(non_empty),
        _ => true,
    }
}

fn compare_any(r: &AttrRef, values: Vec<&Value>, op: CompareOp, literal: &str) -> bool {
    // Empty strings are unassigned (RFC 7643 §2.5), as `pr` treats them.
    let mut keys = values
        .into_iter()
        .filter_map(|v| comparison_key(r.leaf(), v))
        .filter(|k| !k.is_empty());
    match op {
        CompareOp::Ne => !keys.any(|k| k == literal),
        op => keys.any(|k| op.holds(&k, literal)),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Text(String),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Self::Open => "`(`".into(),
            Self::Close => "`)`".into(),
            Self::OpenBracket => "`[`".into(),
            Self::CloseBracket => "`]`".into(),
            Self::Word(w) => format!("`{w}`"),
            Self::Text(t) => format!("string {t:?}"),
        }
    }
}

fn lex(text: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (i, c) in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => {
                            end = Some(i);
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                let end = end.ok_or_else(|| ScimError::invalid_filter("unterminated string"))?;
                let literal: String = serde_json::from_str(&text[start..=end]).map_err(|_| {
                    ScimError::invalid_filter(format!("invalid string {}", &text[start..=end]))
                })?;
                tokens.push(Token::Text(literal));
            }
            _ => {
                let mut end = text.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token::Word(text[start..end].to_owned()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn expect(&mut self, wanted: &Token) -> Result<(), ScimError> {
        match self.next() {
            Some(ref token) if token == wanted => Ok(()),
            Some(token) => Err(ScimError::invalid_filter(format!(
                "expected {} but found {}",
                wanted.describe(),
                token.describe()
            ))),
            None => Err(ScimError::invalid_filter(format!(
                "expected {} but the filter ended",
                wanted.describe()
            ))),
        }
    }

    fn nested<T>(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<T, ScimError>,
    ) -> Result<T, ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScimError::invalid_filter(format!(
                "a filter nests at most {MAX_DEPTH} levels"
            )));
        }
        let result = inner(self);
        self.depth -= 1;
        result
    }

    fn or_expr(&mut self, scope: Scope) -> Result<Filter, ScimError> {
        let mut left = self.and_expr(scope)?;
        while self.peek_keyword("or") {
            self.next();
            let right = self.and_expr(scope)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, scope: Scope) -> Result<Filter, ScimError> {
        let mut left = self.unary(scope)?;
        while self.peek_keyword("and") {
            self.next();
            let right = self.unary(scope)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, scope: Scope) -> Result<Filter, ScimError> {
        if self.peek_keyword("not") {
            self.next();
            return self.nested(|p| {
                p.expect(&Token::Open)?;
                let inner = p.or_expr(scope)?;
                p.expect(&Token::Close)?;
                Ok(Filter::Not(Box::new(inner)))
            });
        }
        match self.next() {
            Some(Token::Open) => self.nested(|p| {
                let inner = p.or_expr(scope)?;
                p.expect(&Token::Close)?;
                Ok(inner)
            }),
            Some(Token::Word(path)) => self.attribute_expr(scope, &path),
            Some(token) => Err(ScimError::invalid_filter(format!(
                "expected an attribute, `not` or `(` but found {}",
                token.describe()
            ))),
            None => Err(ScimError::invalid_filter(
                "the filter is empty or ends early",
            )),
        }
    }

    fn attribute_expr(&mut self, scope: Scope, path: &str) -> Result<Filter, ScimError> {
        let attr = resolve(scope, path)?;
        if self.peek() != Some(&Token::OpenBracket) {
            return self.comparison(attr);
        }
        if matches!(scope, Scope::Element(_)) || attr.sub.is_some() || !attr.attr.multi_valued {
            return Err(ScimError::invalid_filter(format!(
                "`{path}[…]` is not a multi-valued attribute filter"
            )));
        }
        self.next();
        let inner = self.nested(|p| {
            let inner = p.or_expr(Scope::Element(attr))?;
            p.expect(&Token::CloseBracket)?;
            Ok(inner)
        })?;
        // Entra ID's `emails[type eq "work"].value eq "…"`: one element satisfying both.
        let sub = match self.peek() {
            Some(Token::Word(w)) if w.starts_with('.') => Some(w[1..].to_owned()),
            _ => None,
        };
        let Some(sub) = sub else {
            return Ok(Filter::Element(attr, Box::new(inner)));
        };
        self.next();
        let sub_attr = attr.with_sub(&sub).ok_or_else(|| {
            ScimError::invalid_filter(format!("`{sub}` is not a sub-attribute of `{path}`"))
        })?;
        let tail = self.comparison(sub_attr)?;
        Ok(Filter::Element(
            attr,
            Box::new(Filter::And(Box::new(inner), Box::new(tail))),
        ))
    }

    fn comparison(&mut self, attr: AttrRef) -> Result<Filter, ScimError> {
        let attr = filterable(attr)?;
        let op = match self.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("pr") => {
                return Ok(Filter::Present(attr));
            }
            Some(Token::Word(w)) => CompareOp::parse(&w).ok_or_else(|| {
                ScimError::invalid_filter(format!("`{w}` is not a comparison operator"))
            })?,
            Some(token) => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an operator after `{}` but found {}",
                    attr.key(),
                    token.describe()
                )));
            }
            None => {
                return Err(ScimError::invalid_filter(format!(
                    "`{}` needs an operator",
                    attr.key()
                )));
            }
        };
        let literal = match self.next() {
            Some(Token::Text(text)) => Value::String(text),
            Some(Token::Word(word)) => literal_word(&word)?,
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "`{}` needs a value to compare with",
                    attr.key()
                )));
            }
        };
        if literal.is_null() {
            return match op {
                CompareOp::Eq => Ok(Filter::Not(Box::new(Filter::Present(attr)))),
                CompareOp::Ne => Ok(Filter::Present(attr)),
                _ => Err(ScimError::invalid_filter(
                    "null compares only with `eq` and `ne`",
                )),
            };
        }
        Ok(Filter::Compare(attr, op, literal_key(&attr, op, literal)?))
    }
}

fn resolve(scope: Scope, path: &str) -> Result<AttrRef, ScimError> {
    match scope {
        Scope::Resource(resource) => AttrRef::resolve(resource, path),
        Scope::Element(parent) => parent
            .with_sub(path)
            .ok_or_else(|| format!("`{path}` is not a sub-attribute of `{}`", parent.key())),
    }
    .map_err(ScimError::invalid_filter)
}

/// A complex attribute named alone means its `value`; some attributes cannot be filtered.
fn filterable(attr: AttrRef) -> Result<AttrRef, ScimError> {
    let attr = match (attr.sub, attr.attr.default_sub()) {
        (None, Some(value)) if attr.attr.multi_valued => AttrRef {
            sub: Some(value),
            ..attr
        },
        _ => attr,
    };
    if attr.leaf().returned == Returned::Never {
        return Err(ScimError::invalid_filter(format!(
            "`{}` cannot be filtered",
            attr.key()
        )));
    }
    if attr.attr.name == "groups" {
        return Err(ScimError::invalid_filter(
            "User `groups` cannot be filtered; filter Groups by `members.value` instead",
        ));
    }
    Ok(attr)
}

fn literal_word(word: &str) -> Result<Value, ScimError> {
    match word.to_ascii_lowercase().as_str() {
        "true" => Ok(Value::Bool(true)),
        "false" => Ok(Value::Bool(false)),
        "null" => Ok(Value::Null),
        _ => serde_json::from_str::<serde_json::Number>(word)
            .map(|n| Value::String(n.to_string()))
            .map_err(|_| {
                ScimError::invalid_filter(format!(
                    "`{word}` is not a value: quote strings, e.g. \"{word}\""
                ))
            }),
    }
}

/// The literal as a comparison key of the attribute's type, checking the operator fits it.
fn literal_key(attr: &AttrRef, op: CompareOp, literal: Value) -> Result<String, ScimError> {
    let leaf = attr.leaf();
    let ordered = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let textual = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let fits = match leaf.kind {
        AttrType::Boolean => !ordered && !textual,
        AttrType::DateTime => !textual,
        AttrType::Complex => false,
        AttrType::String | AttrType::Reference => true,
    };
    if !fits {
        return Err(ScimError::invalid_filter(format!(
            "`{}` is {} and cannot be compared with `{op:?}`",
            attr.key(),
            leaf.kind.as_str()
        )));
    }
    let literal = match (leaf.kind, literal) {
        // Some clients quote booleans: `active eq "True"`.
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Value::Bool(true)
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Value::Bool(false)
        }
        (_, literal) => literal,
    };
    comparison_key(leaf, &literal).ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "{literal} is not a {} value for `{}`",
            leaf.kind.as_str(),
            attr.key()
        ))
    })
}
