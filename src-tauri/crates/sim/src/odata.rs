//! OData query options as Graph reads them: `$select`, `$top` (with each API's limits), `$skip`,
//! `$skiptoken`, `$count`, `$orderby`, `$expand`, `$search`, and a `$filter` parser and evaluator
//! for the subset of expressions the incident-response procedures use (`eq`, `ne`, `gt`, `ge`,
//! `lt`, `le`, `and`, `or`, `not`, `startswith`, `endswith`, `any(x: ...)` lambdas, string literals
//! with doubled single quotes). Like Graph's own parser, a filter naming a property its entity does
//! not have, or comparing a property with a literal of another type (a quoted date, an unquoted
//! GUID where a string is expected, a quoted GUID where a GUID is), is refused with 400 before
//! anything else; the types come from Microsoft's description (`described.rs`). Then each endpoint
//! declares which properties and operators it filters on; anything else is refused with Graph's
//! 400, never silently ignored.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::clock::parse_time;
use crate::described::{self, Ty};

/// Operators allowed on a property (bit set).
pub(crate) type Ops = u8;
pub(crate) const EQ: Ops = 1;
pub(crate) const NE: Ops = 2;
/// gt, ge, lt, le — only on date-time properties here.
pub(crate) const RANGE: Ops = 4;
pub(crate) const STARTS: Ops = 8;
pub(crate) const ENDS: Ops = 16;

/// What an endpoint accepts in `$filter`.
pub(crate) struct FilterSpec {
    /// The entity type the collection holds (a schema name of the description).
    pub(crate) entity: &'static str,
    /// Property path (`a/b`) and its operators.
    pub(crate) props: &'static [(&'static str, Ops)],
    /// Collection property, allowed inner properties (`""` = the element itself) with operators.
    pub(crate) lambdas: &'static [(&'static str, &'static [(&'static str, Ops)])],
    /// Whether `ne`, `not` and `endswith` are allowed (directory advanced queries, which need
    /// `ConsistencyLevel: eventual` and `$count=true`).
    pub(crate) advanced: bool,
}

/// A rejected query, carrying Graph's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl QueryError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A literal in a filter expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    /// An unquoted GUID (`Edm.Guid`).
    Guid(String),
    Num(f64),
    Bool(bool),
    Null,
    Time(DateTime<Utc>),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn flipped(self) -> Self {
        match self {
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            other => other,
        }
    }
}

/// A parsed `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        path: Vec<String>,
        op: CmpOp,
        value: Literal,
    },
    StartsWith {
        path: Vec<String>,
        value: String,
    },
    EndsWith {
        path: Vec<String>,
        value: String,
    },
    Any {
        path: Vec<String>,
        var: String,
        body: Box<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Lit(Literal),
    Open,
    Close,
    Comma,
    Colon,
    Slash,
}

fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let bad = |m: String| QueryError::new("BadRequest", format!("Invalid filter clause: {m}"));
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            ':' => {
                tokens.push(Token::Colon);
                i += 1;
            }
            '/' => {
                tokens.push(Token::Slash);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(bad("unterminated string literal".to_owned())),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Str(s));
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], ':' | '.' | '-' | '+'))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if let Some(t) = parse_time(&word).or_else(|| {
                    chrono::NaiveDate::parse_from_str(&word, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|d| d.and_utc())
                }) {
                    tokens.push(Token::Lit(Literal::Time(t)));
                } else if crate::scenario::is_guid(&word) {
                    tokens.push(Token::Lit(Literal::Guid(word)));
                } else if let Ok(n) = word.parse::<f64>() {
                    tokens.push(Token::Lit(Literal::Num(n)));
                } else {
                    return Err(bad(format!("'{word}' is not a valid literal")));
                }
            }
            c if c.is_alphabetic() || c == '_' || c == '@' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '@' | '$'))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                // An unquoted GUID that starts with a letter.
                if i < chars.len() && chars[i] == '-' && word.len() == 8 {
                    let mut j = i;
                    while j < chars.len() && (chars[j].is_ascii_hexdigit() || chars[j] == '-') {
                        j += 1;
                    }
                    let candidate: String = chars[start..j].iter().collect();
                    if crate::scenario::is_guid(&candidate) {
                        tokens.push(Token::Lit(Literal::Guid(candidate)));
                        i = j;
                        continue;
                    }
                }
                match word.as_str() {
                    "true" => tokens.push(Token::Lit(Literal::Bool(true))),
                    "false" => tokens.push(Token::Lit(Literal::Bool(false))),
                    "null" => tokens.push(Token::Lit(Literal::Null)),
                    _ => tokens.push(Token::Ident(word)),
                }
            }
            other => return Err(bad(format!("unexpected character '{other}'"))),
        }
    }
    Ok(tokens)
}

/// A property path, and the lambda (variable, body) when the path ends in `any(...)`.
type PathOrLambda = (Vec<String>, Option<(String, Expr)>);

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    vars: Vec<String>,
}

fn syntax(message: impl Into<String>) -> QueryError {
    QueryError::new(
        "BadRequest",
        format!("Invalid filter clause: {}", message.into()),
    )
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), QueryError> {
        if self.next() == Some(token) {
            Ok(())
        } else {
            Err(syntax(format!("expected {what}")))
        }
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        match self.peek().cloned() {
            Some(Token::Open) => {
                self.pos += 1;
                let inner = self.or()?;
                self.expect(Token::Close, "')'")?;
                Ok(inner)
            }
            Some(Token::Ident(name))
                if matches!(self.tokens.get(self.pos + 1), Some(Token::Open))
                    && ["startswith", "endswith", "contains"]
                        .iter()
                        .any(|f| name.eq_ignore_ascii_case(f)) =>
            {
                self.pos += 2;
                let path = self.path()?;
                self.expect(Token::Comma, "','")?;
                let Some(Token::Str(value)) = self.next() else {
                    return Err(syntax(format!(
                        "{name} needs a string literal as its second argument"
                    )));
                };
                self.expect(Token::Close, "')'")?;
                let function = name.to_ascii_lowercase();
                match function.as_str() {
                    "startswith" => Ok(Expr::StartsWith { path, value }),
                    "endswith" => Ok(Expr::EndsWith { path, value }),
                    _ => Err(QueryError::new(
                        "BadRequest",
                        "Invalid filter clause: the function 'contains' is not supported.",
                    )),
                }
            }
            Some(Token::Ident(_)) => {
                let (path, lambda) = self.path_or_lambda()?;
                if let Some((var, body)) = lambda {
                    return Ok(Expr::Any {
                        path,
                        var,
                        body: Box::new(body),
                    });
                }
                let op = self.operator()?;
                let value = self.literal()?;
                Ok(Expr::Cmp { path, op, value })
            }
            Some(Token::Str(_)) | Some(Token::Lit(_)) => {
                let value = self.literal()?;
                let op = self.operator()?.flipped();
                let path = self.path()?;
                Ok(Expr::Cmp { path, op, value })
            }
            _ => Err(syntax("expected an expression")),
        }
    }

    fn operator(&mut self) -> Result<CmpOp, QueryError> {
        match self.next() {
            Some(Token::Ident(op)) => match op.to_ascii_lowercase().as_str() {
                "eq" => Ok(CmpOp::Eq),
                "ne" => Ok(CmpOp::Ne),
                "gt" => Ok(CmpOp::Gt),
                "ge" => Ok(CmpOp::Ge),
                "lt" => Ok(CmpOp::Lt),
                "le" => Ok(CmpOp::Le),
                other => Err(syntax(format!("'{other}' is not a supported operator"))),
            },
            _ => Err(syntax("expected a comparison operator")),
        }
    }

    fn literal(&mut self) -> Result<Literal, QueryError> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Literal::Str(s)),
            Some(Token::Lit(l)) => Ok(l),
            _ => Err(syntax("expected a literal value")),
        }
    }

    fn path(&mut self) -> Result<Vec<String>, QueryError> {
        let (path, lambda) = self.path_or_lambda()?;
        if lambda.is_some() {
            return Err(syntax("a lambda cannot be used here"));
        }
        Ok(path)
    }

    fn path_or_lambda(&mut self) -> Result<PathOrLambda, QueryError> {
        let mut path = Vec::new();
        let Some(Token::Ident(first)) = self.next() else {
            return Err(syntax("expected a property name"));
        };
        path.push(first);
        while self.peek() == Some(&Token::Slash) {
            self.pos += 1;
            let Some(Token::Ident(segment)) = self.next() else {
                return Err(syntax("expected a property name after '/'"));
            };
            let lower = segment.to_ascii_lowercase();
            if (lower == "any" || lower == "all") && self.peek() == Some(&Token::Open) {
                if lower == "all" {
                    return Err(QueryError::new(
                        "BadRequest",
                        "Invalid filter clause: the lambda operator 'all' is not supported.",
                    ));
                }
                self.pos += 1;
                let Some(Token::Ident(var)) = self.next() else {
                    return Err(syntax("expected a lambda variable"));
                };
                self.expect(Token::Colon, "':' after the lambda variable")?;
                self.vars.push(var.clone());
                let body = self.or()?;
                self.vars.pop();
                self.expect(Token::Close, "')' closing the lambda")?;
                return Ok((path, Some((var, body))));
            }
            path.push(segment);
        }
        Ok((path, None))
    }
}

/// Parses a `$filter` value.
pub(crate) fn parse_filter(text: &str) -> Result<Expr, QueryError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        pos: 0,
        vars: Vec::new(),
    };
    let expr = parser.or()?;
    if parser.pos != parser.tokens.len() {
        return Err(syntax("unexpected text after the end of the expression"));
    }
    Ok(expr)
}

/// Checks an expression as Graph does: first that every property exists on the endpoint's entity
/// (on this version) and every literal has the property's type, then that the endpoint supports
/// each property and operator. `code` is the error code the endpoint's family uses for the latter
/// (directory: `Request_UnsupportedQuery`, others: `BadRequest`).
pub(crate) fn check_filter(
    expr: &Expr,
    spec: &FilterSpec,
    code: &'static str,
    advanced: bool,
    beta: bool,
) -> Result<(), QueryError> {
    check_types(expr, spec.entity, None, beta)?;
    check_support(expr, spec, code, advanced)
}

/// Graph's answer to a property its type does not have.
pub(crate) fn no_such_property(name: &str, on_type: &str) -> String {
    format!("Could not find a property named '{name}' on type '{on_type}'.")
}

fn invalid_clause(message: String) -> QueryError {
    QueryError::new("BadRequest", format!("Invalid filter clause: {message}"))
}

/// A property of `entity`; on directory objects (a polymorphic collection Graph reads leniently),
/// also a property of any type derived from it.
pub(crate) fn lookup_property(entity: &str, name: &str, beta: bool) -> Option<(&'static str, Ty)> {
    described::property(entity, name, beta).or_else(|| {
        (entity == "microsoft.graph.directoryObject")
            .then(|| {
                described::derived_types(entity)
                    .into_iter()
                    .find_map(|t| described::property(t, name, beta))
            })
            .flatten()
    })
}

/// The type a property path leads to, from the entity or from a lambda variable.
fn resolve_path(
    path: &[String],
    entity: &str,
    scope: Option<(&str, Ty)>,
    beta: bool,
) -> Result<Ty, QueryError> {
    let (mut current, rest) = match scope {
        Some((var, element)) if path.first().is_some_and(|p| p.eq_ignore_ascii_case(var)) => {
            (element, &path[1..])
        }
        _ => (
            Ty::Complex(described::schema(entity).map_or("", |s| s.name)),
            path,
        ),
    };
    for segment in rest {
        current = match current {
            Ty::Open => return Ok(Ty::Open),
            Ty::Complex(name) => lookup_property(name, segment, beta)
                .map(|(_, ty)| ty)
                .ok_or_else(|| invalid_clause(no_such_property(segment, name)))?,
            other => return Err(invalid_clause(no_such_property(segment, &other.edm_name()))),
        };
    }
    Ok(current)
}

fn op_kind(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "Equal",
        CmpOp::Ne => "NotEqual",
        CmpOp::Gt => "GreaterThan",
        CmpOp::Ge => "GreaterThanOrEqual",
        CmpOp::Lt => "LessThan",
        CmpOp::Le => "LessThanOrEqual",
    }
}

/// Whether a literal can be compared with a property of type `ty`.
fn literal_fits(ty: Ty, op: CmpOp, value: &Literal) -> Result<(), QueryError> {
    let fits = match (ty, value) {
        (_, Literal::Null) | (Ty::Open, _) => true,
        (Ty::String, Literal::Str(_))
        | (Ty::Guid, Literal::Guid(_))
        | (Ty::DateTime | Ty::Date, Literal::Time(_))
        | (Ty::Boolean, Literal::Bool(_))
        | (Ty::Int | Ty::Number, Literal::Num(_)) => true,
        (Ty::Enum(name), Literal::Str(text)) => {
            let known = described::enum_members(name)
                .is_none_or(|members| members.iter().any(|m| m.eq_ignore_ascii_case(text)));
            if !known {
                return Err(invalid_clause(format!(
                    "The string '{text}' is not a valid enumeration type constant."
                )));
            }
            true
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(invalid_clause(format!(
            "A binary operator with incompatible types was detected. Found operand types '{}' and '{}' for operator kind '{}'.",
            ty.edm_name(),
            literal_type(value),
            op_kind(op)
        )))
    }
}

fn check_types(
    expr: &Expr,
    entity: &str,
    scope: Option<(&str, Ty)>,
    beta: bool,
) -> Result<(), QueryError> {
    match expr {
        Expr::And(a, b) | Expr::Or(a, b) => {
            check_types(a, entity, scope, beta)?;
            check_types(b, entity, scope, beta)
        }
        Expr::Not(inner) => check_types(inner, entity, scope, beta),
        Expr::Cmp { path, op, value } => {
            let ty = resolve_path(path, entity, scope, beta)?;
            literal_fits(ty, *op, value)
        }
        Expr::StartsWith { path, .. } | Expr::EndsWith { path, .. } => {
            match resolve_path(path, entity, scope, beta)? {
                Ty::String | Ty::Open => Ok(()),
                other => Err(invalid_clause(format!(
                    "No function signature for the function with name '{}' matches the specified arguments: '{}' is of type '{}', not 'Edm.String'.",
                    if matches!(expr, Expr::StartsWith { .. }) { "startswith" } else { "endswith" },
                    path.join("/"),
                    other.edm_name()
                ))),
            }
        }
        Expr::Any { path, var, body } => match resolve_path(path, entity, scope, beta)? {
            Ty::Collection(element) => check_types(body, entity, Some((var, *element)), beta),
            Ty::Open => Ok(()),
            other => Err(invalid_clause(format!(
                "The Any/All query expression can only be applied to a collection; '{}' is of type '{}'.",
                path.join("/"),
                other.edm_name()
            ))),
        },
    }
}

/// Checks an expression against what an endpoint supports.
fn check_support(
    expr: &Expr,
    spec: &FilterSpec,
    code: &'static str,
    advanced: bool,
) -> Result<(), QueryError> {
    let unsupported = |what: String| {
        QueryError::new(
            code,
            format!("Unsupported or invalid query filter clause specified for {what}."),
        )
    };
    let prop_ops = |list: &[(&str, Ops)], path: &str| {
        list.iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(path))
            .map(|(_, ops)| *ops)
    };
    let advanced_ok = spec.advanced && advanced;
    match expr {
        Expr::And(a, b) | Expr::Or(a, b) => {
            check_support(a, spec, code, advanced)?;
            check_support(b, spec, code, advanced)
        }
        Expr::Not(inner) => {
            if !advanced_ok {
                return Err(QueryError::new(code, "Operator 'not' is not supported here; it needs the ConsistencyLevel: eventual header and $count=true on endpoints that support advanced queries."));
            }
            check_support(inner, spec, code, advanced)
        }
        Expr::Cmp { path, op, .. } => {
            let joined = path.join("/");
            let ops = prop_ops(spec.props, &joined)
                .ok_or_else(|| unsupported(format!("property '{joined}'")))?;
            check_op(&joined, *op, ops, advanced_ok, code)
        }
        Expr::StartsWith { path, .. } => {
            let joined = path.join("/");
            let ops = prop_ops(spec.props, &joined)
                .ok_or_else(|| unsupported(format!("property '{joined}'")))?;
            if ops & STARTS == 0 {
                return Err(unsupported(format!("startswith on property '{joined}'")));
            }
            Ok(())
        }
        Expr::EndsWith { path, .. } => {
            let joined = path.join("/");
            let ops = prop_ops(spec.props, &joined)
                .ok_or_else(|| unsupported(format!("property '{joined}'")))?;
            if ops & ENDS == 0 || !advanced_ok {
                return Err(QueryError::new(code, format!("Unsupported query: endswith on '{joined}' needs the ConsistencyLevel: eventual header and $count=true, where the property supports it.")));
            }
            Ok(())
        }
        Expr::Any { path, var, body } => {
            let joined = path.join("/");
            let inner = spec
                .lambdas
                .iter()
                .find(|(p, _)| p.eq_ignore_ascii_case(&joined))
                .map(|(_, inner)| *inner)
                .ok_or_else(|| unsupported(format!("lambda on property '{joined}'")))?;
            check_lambda_body(body, var, inner, code, &joined)
        }
    }
}

fn check_lambda_body(
    body: &Expr,
    var: &str,
    inner: &[(&str, Ops)],
    code: &'static str,
    outer: &str,
) -> Result<(), QueryError> {
    let unsupported = |what: String| {
        QueryError::new(code, format!("Unsupported or invalid query filter clause specified for {what} inside the lambda on '{outer}'."))
    };
    match body {
        Expr::And(a, b) | Expr::Or(a, b) => {
            check_lambda_body(a, var, inner, code, outer)?;
            check_lambda_body(b, var, inner, code, outer)
        }
        Expr::Cmp { path, op, .. } => {
            if !path[0].eq_ignore_ascii_case(var) {
                return Err(unsupported(format!(
                    "'{}' (use the lambda variable '{var}')",
                    path.join("/")
                )));
            }
            let rest = path[1..].join("/");
            let ops = inner
                .iter()
                .find(|(p, _)| p.eq_ignore_ascii_case(&rest))
                .map(|(_, o)| *o)
                .ok_or_else(|| unsupported(format!("property '{}'", path.join("/"))))?;
            check_op(&rest, *op, ops, false, code)
        }
        Expr::StartsWith { path, .. } => {
            let rest = path.get(1..).map(|p| p.join("/")).unwrap_or_default();
            let ok = path[0].eq_ignore_ascii_case(var)
                && inner
                    .iter()
                    .any(|(p, o)| p.eq_ignore_ascii_case(&rest) && o & STARTS != 0);
            if ok {
                Ok(())
            } else {
                Err(unsupported(format!("startswith on '{}'", path.join("/"))))
            }
        }
        _ => Err(unsupported("this expression".to_owned())),
    }
}

fn check_op(
    path: &str,
    op: CmpOp,
    ops: Ops,
    advanced_ok: bool,
    code: &'static str,
) -> Result<(), QueryError> {
    let needed = match op {
        CmpOp::Eq => EQ,
        CmpOp::Ne => NE,
        _ => RANGE,
    };
    if ops & needed == 0 {
        return Err(QueryError::new(code, format!("Unsupported or invalid query filter clause specified for property '{path}': operator '{}' is not supported.", op_name(op))));
    }
    if op == CmpOp::Ne && !advanced_ok {
        return Err(QueryError::new(code, "Operator 'ne' needs the ConsistencyLevel: eventual header and $count=true on endpoints that support advanced queries."));
    }
    Ok(())
}

fn op_name(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "eq",
        CmpOp::Ne => "ne",
        CmpOp::Gt => "gt",
        CmpOp::Ge => "ge",
        CmpOp::Lt => "lt",
        CmpOp::Le => "le",
    }
}

fn literal_type(value: &Literal) -> &'static str {
    match value {
        Literal::Str(_) => "Edm.String",
        Literal::Guid(_) => "Edm.Guid",
        Literal::Num(n) if n.fract() == 0.0 && n.abs() <= f64::from(i32::MAX) => "Edm.Int32",
        Literal::Num(n) if n.fract() == 0.0 => "Edm.Int64",
        Literal::Num(_) => "Edm.Double",
        Literal::Bool(_) => "Edm.Boolean",
        Literal::Null => "null",
        Literal::Time(_) => "Edm.DateTimeOffset",
    }
}

fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn resolve<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut current = value;
    for segment in path {
        current = match current {
            Value::Object(map) => get_ci(map, segment)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Evaluates an expression against a JSON entity.
pub(crate) fn matches(expr: &Expr, item: &Value) -> bool {
    eval(expr, item, None)
}

fn eval(expr: &Expr, item: &Value, scope: Option<(&str, &Value)>) -> bool {
    let lookup = |path: &[String]| -> Option<Value> {
        match scope {
            Some((var, element)) if path.first().is_some_and(|p| p.eq_ignore_ascii_case(var)) => {
                resolve(element, &path[1..]).cloned()
            }
            _ => resolve(item, path).cloned(),
        }
    };
    match expr {
        Expr::And(a, b) => eval(a, item, scope) && eval(b, item, scope),
        Expr::Or(a, b) => eval(a, item, scope) || eval(b, item, scope),
        Expr::Not(inner) => !eval(inner, item, scope),
        Expr::Cmp { path, op, value } => compare(lookup(path).as_ref(), *op, value),
        Expr::StartsWith { path, value } => lookup(path)
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|s| s.to_lowercase().starts_with(&value.to_lowercase())),
        Expr::EndsWith { path, value } => lookup(path)
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|s| s.to_lowercase().ends_with(&value.to_lowercase())),
        Expr::Any { path, var, body } => match lookup(path) {
            Some(Value::Array(elements)) => elements
                .iter()
                .any(|element| eval(body, item, Some((var, element)))),
            _ => false,
        },
    }
}

fn compare(actual: Option<&Value>, op: CmpOp, expected: &Literal) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (actual, expected) {
        (None | Some(Value::Null), Literal::Null) => Some(Ordering::Equal),
        (None | Some(Value::Null), _) | (Some(_), Literal::Null) => None,
        (Some(Value::String(s)), Literal::Str(e) | Literal::Guid(e)) => {
            Some(s.to_lowercase().cmp(&e.to_lowercase()))
        }
        (Some(Value::String(s)), Literal::Time(t)) => parse_time(s).map(|v| v.cmp(t)),
        (Some(Value::Number(n)), Literal::Num(e)) => n.as_f64().and_then(|v| v.partial_cmp(e)),
        (Some(Value::Bool(b)), Literal::Bool(e)) => Some(b.cmp(e)),
        _ => None,
    };
    match (op, ordering) {
        (CmpOp::Ne, None) => {
            actual.is_some_and(|v| !v.is_null()) || !matches!(expected, Literal::Null)
        }
        (_, None) => false,
        (CmpOp::Eq, Some(o)) => o == Ordering::Equal,
        (CmpOp::Ne, Some(o)) => o != Ordering::Equal,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Ge, Some(o)) => o != Ordering::Less,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Le, Some(o)) => o != Ordering::Greater,
    }
}

/// The newest time an item can have and still match: an upper bound would not help newest-first
/// scans, but a lower bound (`prop ge/gt T` at the top level of an `and` chain) lets a scan stop.
pub(crate) fn lower_time_bound(expr: &Expr, property: &str) -> Option<DateTime<Utc>> {
    match expr {
        Expr::And(a, b) => match (lower_time_bound(a, property), lower_time_bound(b, property)) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        },
        Expr::Cmp {
            path,
            op: CmpOp::Ge | CmpOp::Gt,
            value: Literal::Time(t),
        } if path.len() == 1 && path[0].eq_ignore_ascii_case(property) => Some(*t),
        _ => None,
    }
}

/// The top-level `prop eq 'value'` of an `and` chain, if any (used to narrow generated scans).
pub(crate) fn equality_on(expr: &Expr, property: &str) -> Option<String> {
    match expr {
        Expr::And(a, b) => equality_on(a, property).or_else(|| equality_on(b, property)),
        Expr::Cmp {
            path,
            op: CmpOp::Eq,
            value: Literal::Str(s),
        } if path.len() == 1 && path[0].eq_ignore_ascii_case(property) => Some(s.clone()),
        _ => None,
    }
}

/// The text every matching item's `property` must begin with, from a top-level `startswith(prop,
/// 'text')` or `prop eq 'text'` of an `and` chain (used to narrow generated scans; an equality is
/// the narrowest prefix there is).
pub(crate) fn prefix_on(expr: &Expr, property: &str) -> Option<String> {
    match expr {
        Expr::And(a, b) => prefix_on(a, property).or_else(|| prefix_on(b, property)),
        Expr::StartsWith { path, value }
            if path.len() == 1 && path[0].eq_ignore_ascii_case(property) =>
        {
            Some(value.clone())
        }
        _ => equality_on(expr, property),
    }
}

/// The query options of one request.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    pub(crate) select: Option<Vec<String>>,
    pub(crate) top: Option<usize>,
    pub(crate) skip: Option<usize>,
    pub(crate) skiptoken: Option<String>,
    pub(crate) filter: Option<Expr>,
    pub(crate) raw_filter: Option<String>,
    pub(crate) count: bool,
    pub(crate) orderby: Option<(String, bool)>,
    pub(crate) expand: Vec<String>,
    pub(crate) search: Option<String>,
    /// The request's query pairs as received (to rebuild `@odata.nextLink`).
    pub(crate) pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses the raw query string; unknown `$` options and malformed values are refused.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Query, QueryError> {
        let mut query = Query::default();
        let Some(raw) = raw else { return Ok(query) };
        let mut seen = std::collections::HashSet::new();
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            let key = key.into_owned();
            let value = value.into_owned();
            let name = key.trim_start_matches('$').to_ascii_lowercase();
            let is_option = key.starts_with('$')
                || matches!(
                    name.as_str(),
                    "select"
                        | "top"
                        | "filter"
                        | "count"
                        | "orderby"
                        | "expand"
                        | "skip"
                        | "skiptoken"
                        | "search"
                );
            query.pairs.push((key.clone(), value.clone()));
            if !is_option {
                continue;
            }
            if !seen.insert(name.clone()) {
                return Err(QueryError::new("BadRequest", format!("Query option '${name}' was specified more than once, but it must be specified at most once.")));
            }
            match name.as_str() {
                "select" => {
                    let props: Vec<String> = value.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
                    if props.is_empty() || props.iter().any(|p| !p.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.')) {
                        return Err(QueryError::new("BadRequest", format!("Parsing OData Select and Expand failed: invalid $select value '{value}'.")));
                    }
                    query.select = Some(props);
                }
                "top" => {
                    let n = value.trim().parse::<i64>().map_err(|_| QueryError::new("BadRequest", format!("Invalid value '{value}' for $top query option found.")))?;
                    if n < 0 {
                        return Err(QueryError::new("BadRequest", format!("Invalid value '{value}' for $top query option found. The value must be a non-negative integer.")));
                    }
                    query.top = Some(n as usize);
                }
                "skip" => {
                    let n = value.trim().parse::<usize>().map_err(|_| QueryError::new("BadRequest", format!("Invalid value '{value}' for $skip query option found.")))?;
                    query.skip = Some(n);
                }
                "skiptoken" => query.skiptoken = Some(value),
                "filter" => {
                    query.filter = Some(parse_filter(&value)?);
                    query.raw_filter = Some(value);
                }
                "count" => {
                    query.count = match value.trim().to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(QueryError::new("BadRequest", format!("Invalid value '{value}' for $count query option found. Valid values are 'true' and 'false'."))),
                    }
                }
                "orderby" => {
                    let mut parts = value.split_whitespace();
                    let prop = parts.next().unwrap_or_default().to_owned();
                    let desc = match parts.next().map(str::to_ascii_lowercase).as_deref() {
                        None | Some("asc") => false,
                        Some("desc") => true,
                        Some(other) => return Err(QueryError::new("BadRequest", format!("Invalid $orderby direction '{other}'."))),
                    };
                    if prop.is_empty() || parts.next().is_some() || value.contains(',') {
                        return Err(QueryError::new("BadRequest", format!("Unsupported $orderby value '{value}': order by one property.")));
                    }
                    query.orderby = Some((prop, desc));
                }
                "expand" => query.expand = value.split(',').map(|p| p.trim().to_owned()).collect(),
                "search" => query.search = Some(value),
                other => return Err(QueryError::new("BadRequest", format!("Query option '${other}' is not supported."))),
            }
        }
        Ok(query)
    }
}

/// Keeps only the selected properties (and OData annotations, `id`, and expanded navigation
/// properties) of an entity. A selected property the entity has but the record lacks is answered
/// as `null`, as Graph does (`has` says which names the entity has; `select` holds the names as
/// the description spells them).
pub(crate) fn project(
    item: &Value,
    select: &[String],
    expand: &[String],
    has: &dyn Fn(&str) -> bool,
) -> Value {
    let Value::Object(map) = item else {
        return item.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        if key.starts_with('@')
            || key == "id"
            || select
                .iter()
                .chain(expand)
                .any(|s| s.eq_ignore_ascii_case(key))
        {
            out.insert(key.clone(), value.clone());
        }
    }
    for name in select {
        if !out.keys().any(|k| k.eq_ignore_ascii_case(name)) && has(name) {
            out.insert(name.clone(), Value::Null);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AUDITS: FilterSpec = FilterSpec {
        entity: "microsoft.graph.directoryAudit",
        props: &[
            ("activityDateTime", RANGE),
            ("activityDisplayName", EQ | STARTS),
            ("initiatedBy/user/id", EQ),
        ],
        lambdas: &[(
            "targetResources",
            &[("id", EQ), ("displayName", EQ | STARTS)],
        )],
        advanced: false,
    };

    #[test]
    fn a_prefix_is_read_only_where_every_match_must_have_it() {
        let prefix = |f: &str| prefix_on(&parse_filter(f).unwrap(), "ipAddress");
        assert_eq!(
            prefix(
                "startswith(ipAddress, '45.141.84.') and createdDateTime ge 2026-01-01T00:00:00Z"
            )
            .as_deref(),
            Some("45.141.84.")
        );
        assert_eq!(
            prefix("userId eq 'u' and ipAddress eq '1.2.3.4'").as_deref(),
            Some("1.2.3.4")
        );
        // Under an `or` or a `not`, a record without the prefix can still match.
        assert_eq!(prefix("startswith(ipAddress, '1.') or userId eq 'u'"), None);
        assert_eq!(prefix("not startswith(ipAddress, '1.')"), None);
        assert_eq!(prefix("startswith(userPrincipalName, '1.')"), None);
    }

    #[test]
    fn parses_and_evaluates_a_lambda_with_a_date_range() {
        let expr = parse_filter(
            "targetResources/any(t:t/id eq 'u1') and activityDateTime ge 2024-06-01T00:00:00Z",
        )
        .unwrap();
        check_filter(&expr, &AUDITS, "BadRequest", false, false).unwrap();
        let hit = json!({"activityDateTime": "2024-06-02T00:00:00Z", "targetResources": [{"id": "x"}, {"id": "U1"}]});
        let old =
            json!({"activityDateTime": "2024-05-02T00:00:00Z", "targetResources": [{"id": "u1"}]});
        let other =
            json!({"activityDateTime": "2024-06-02T00:00:00Z", "targetResources": [{"id": "u2"}]});
        assert!(matches(&expr, &hit));
        assert!(!matches(&expr, &old));
        assert!(!matches(&expr, &other));
        assert_eq!(
            lower_time_bound(&expr, "activityDateTime")
                .map(crate::clock::graph_time)
                .as_deref(),
            Some("2024-06-01T00:00:00Z")
        );
    }

    #[test]
    fn doubled_single_quotes_are_one_quote() {
        let expr = parse_filter("activityDisplayName eq 'O''Brien''s rule'").unwrap();
        assert_eq!(
            expr,
            Expr::Cmp {
                path: vec!["activityDisplayName".into()],
                op: CmpOp::Eq,
                value: Literal::Str("O'Brien's rule".into())
            }
        );
        assert!(matches(
            &expr,
            &json!({"activityDisplayName": "o'brien's RULE"})
        ));
    }

    #[test]
    fn an_unescaped_quote_cannot_inject_a_clause() {
        // What a client that forgot to double quotes would send for the name  x' or 1 eq 1 or 'a
        let err = parse_filter("activityDisplayName eq 'x' or 1 eq 1 or 'a'").unwrap_err();
        assert_eq!(err.code, "BadRequest");
    }

    #[test]
    fn or_binds_looser_than_and() {
        let expr = parse_filter("activityDisplayName eq 'a' or activityDisplayName eq 'b' and initiatedBy/user/id eq 'z'").unwrap();
        assert!(matches(&expr, &json!({"activityDisplayName": "a"})));
        assert!(!matches(
            &expr,
            &json!({"activityDisplayName": "b", "initiatedBy": {"user": {"id": "y"}}})
        ));
        assert!(matches(
            &expr,
            &json!({"activityDisplayName": "b", "initiatedBy": {"user": {"id": "z"}}})
        ));
    }

    #[test]
    fn unsupported_properties_operators_and_functions_are_refused() {
        let refuse = |text: &str| {
            let parsed = parse_filter(text);
            parsed
                .and_then(|e| check_filter(&e, &AUDITS, "BadRequest", false, false))
                .unwrap_err()
        };
        assert!(refuse("category eq 'x'").message.contains("'category'"));
        assert!(refuse("activityDisplayName ne 'x'").message.contains("ne"));
        assert!(refuse("endswith(activityDisplayName,'x')")
            .message
            .contains("endswith"));
        assert!(refuse("contains(activityDisplayName,'x')")
            .message
            .contains("contains"));
        assert!(refuse("activityDateTime ge 'yesterday'")
            .message
            .contains("Edm.DateTimeOffset"));
        assert!(refuse("targetResources/all(t:t/id eq 'x')")
            .message
            .contains("all"));
        assert!(refuse("targetResources/any(t:t/type eq 'User')")
            .message
            .contains("t/type"));
        assert!(refuse("activityDisplayName eq")
            .message
            .contains("Invalid filter clause"));
    }

    #[test]
    fn string_collection_lambdas_compare_the_element() {
        let spec = FilterSpec {
            entity: "microsoft.graph.signIn",
            props: &[],
            lambdas: &[("signInEventTypes", &[("", EQ)])],
            advanced: false,
        };
        let expr = parse_filter("signInEventTypes/any(t: t eq 'nonInteractiveUser')").unwrap();
        check_filter(&expr, &spec, "BadRequest", false, true).unwrap();
        let v1 = check_filter(&expr, &spec, "BadRequest", false, false).unwrap_err();
        assert_eq!(v1.code, "BadRequest");
        assert!(
            v1.message
                .contains("Could not find a property named 'signInEventTypes' on type 'microsoft.graph.signIn'"),
            "{}",
            v1.message
        );
        assert!(matches(
            &expr,
            &json!({"signInEventTypes": ["nonInteractiveUser"]})
        ));
        assert!(!matches(
            &expr,
            &json!({"signInEventTypes": ["interactiveUser"]})
        ));
    }

    #[test]
    fn guid_properties_take_unquoted_guids_and_string_properties_quoted_ones() {
        let spec = FilterSpec {
            entity: "microsoft.graph.appRoleAssignment",
            props: &[("principalId", EQ), ("principalDisplayName", EQ)],
            lambdas: &[],
            advanced: false,
        };
        let guid = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";
        let check = |text: &str| {
            parse_filter(text).and_then(|e| check_filter(&e, &spec, "BadRequest", false, false))
        };
        check(&format!("principalId eq {guid}")).unwrap();
        let quoted = check(&format!("principalId eq '{guid}'")).unwrap_err();
        assert!(
            quoted.message.contains("'Edm.Guid' and 'Edm.String'"),
            "{}",
            quoted.message
        );
        check(&format!("principalDisplayName eq '{guid}'")).unwrap();
        let unquoted = check(&format!("principalDisplayName eq {guid}")).unwrap_err();
        assert!(
            unquoted.message.contains("'Edm.String' and 'Edm.Guid'"),
            "{}",
            unquoted.message
        );
        let expr = parse_filter(&format!("principalId eq {}", guid.to_uppercase())).unwrap();
        assert!(matches(&expr, &json!({"principalId": guid})));
    }

    #[test]
    fn query_options_are_validated() {
        assert!(Query::parse(Some("$top=abc")).is_err());
        assert!(Query::parse(Some("$foo=1")).is_err());
        assert!(Query::parse(Some("$top=1&$top=2")).is_err());
        assert!(Query::parse(Some("$select=id,displayName')")).is_err());
        let q = Query::parse(Some(
            "$select=id,accountEnabled&$top=5&$count=true&api-version=x",
        ))
        .unwrap();
        assert_eq!(
            q.select.as_deref(),
            Some(&["id".to_owned(), "accountEnabled".to_owned()][..])
        );
        assert_eq!(q.top, Some(5));
        assert!(q.count);
    }

    #[test]
    fn projection_keeps_selected_properties_and_annotations() {
        let v = json!({"@odata.type": "#x", "id": "1", "displayName": "a", "mail": "b"});
        assert_eq!(
            project(&v, &["displayName".into()], &[], &|_| true),
            json!({"@odata.type": "#x", "id": "1", "displayName": "a"})
        );
        assert_eq!(
            project(&v, &["displayName".into(), "jobTitle".into()], &[], &|p| p
                == "jobTitle"),
            json!({"@odata.type": "#x", "id": "1", "displayName": "a", "jobTitle": null}),
            "a selected property the record lacks is null"
        );
    }
}
