//! What the checker knows of a value without running the program: literals and what folds
//! from them (`sizeof`, `offsetof`, `is_str()`, `typeinfo()`, comparisons of literal strings
//! and records). `comptime e`, `if comptime`, `static_assert` and `is_literal` ask it.

use super::diagnostics;
use super::exprs::{mk, poisoned};
use super::Checker;
use crate::ast::{self, BinaryOp as B, ExprKind as A};
use crate::hir::{Expr, ExprKind as H, Stmt, Unary};

/// A value known while checking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Const {
    Int(i64),
    /// A string's text, without its terminator and the padding after it.
    Str(Vec<u8>),
    /// A tuple's or a record's elements.
    Tuple(Vec<Const>),
}

/// The value of `e` if the checker knows it, or None.
pub(super) fn constant(e: &Expr) -> Option<Const> {
    match &e.kind {
        H::Int(i) => Some(Const::Int(*i)),
        H::Str(bytes) => {
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
            Some(Const::Str(bytes[..end].to_vec()))
        }
        // A conversion to another width or string length keeps what the value says.
        H::Cast(inner) => constant(inner),
        H::Tuple(items) => items
            .iter()
            .map(constant)
            .collect::<Option<_>>()
            .map(Const::Tuple),
        H::TupleIndex { expr, index } => match constant(expr)? {
            Const::Tuple(mut items) if (*index as usize) < items.len() => {
                Some(items.swap_remove(*index as usize))
            }
            _ => None,
        },
        H::Ternary {
            cond,
            then,
            otherwise,
        } => match constant(cond)? {
            Const::Int(0) => constant(otherwise),
            Const::Int(_) => constant(then),
            _ => None,
        },
        H::StrCmp { equal, lhs, rhs } => {
            let same = constant(lhs)? == constant(rhs)?;
            Some(Const::Int(i64::from(same == *equal)))
        }
        H::Unary { op, expr } => {
            let Const::Int(v) = constant(expr)? else {
                return None;
            };
            Some(Const::Int(match op {
                Unary::Neg => v.wrapping_neg(),
                Unary::Not => i64::from(v == 0),
                Unary::BitNot => !v,
            }))
        }
        H::Binary { op, lhs, rhs } => {
            let (a, b) = (constant(lhs)?, constant(rhs)?);
            match (a, b) {
                (Const::Int(a), Const::Int(b)) => int_binary(*op, a, b).map(Const::Int),
                // Tuples and records compare element by element.
                (a, b) => match op {
                    B::Eq => Some(Const::Int(i64::from(a == b))),
                    B::Ne => Some(Const::Int(i64::from(a != b))),
                    _ => None,
                },
            }
        }
        _ => None,
    }
}

/// `a op b` of two known integers, wrapping as the program's 64-bit arithmetic does.
fn int_binary(op: B, a: i64, b: i64) -> Option<i64> {
    Some(match op {
        B::Add => a.wrapping_add(b),
        B::Sub => a.wrapping_sub(b),
        B::Mul => a.wrapping_mul(b),
        B::Div => a.checked_div(b)?,
        B::Mod => a.checked_rem(b)?,
        B::BitAnd => a & b,
        B::BitOr => a | b,
        B::BitXor => a ^ b,
        B::Shl => a.checked_shl(u32::try_from(b).ok()?)?,
        B::Shr => a.checked_shr(u32::try_from(b).ok()?)?,
        B::Eq => i64::from(a == b),
        B::Ne => i64::from(a != b),
        B::Lt => i64::from(a < b),
        B::Le => i64::from(a <= b),
        B::Gt => i64::from(a > b),
        B::Ge => i64::from(a >= b),
        B::LogicalAnd => i64::from(a != 0 && b != 0),
        B::LogicalOr => i64::from(a != 0 || b != 0),
    })
}

/// `a < b` (or `<=`, `>`, `>=`) of two strings the checker knows, compared byte by byte up
/// to the first NUL; None for another operator or a string known only at run time.
pub(super) fn string_order(op: B, a: &Expr, b: &Expr) -> Option<bool> {
    let (Const::Str(a), Const::Str(b)) = (constant(a)?, constant(b)?) else {
        return None;
    };
    match op {
        B::Lt => Some(a < b),
        B::Le => Some(a <= b),
        B::Gt => Some(a > b),
        B::Ge => Some(a >= b),
        B::Eq
        | B::Ne
        | B::Add
        | B::Sub
        | B::Mul
        | B::Div
        | B::Mod
        | B::BitAnd
        | B::BitOr
        | B::BitXor
        | B::Shl
        | B::Shr
        | B::LogicalAnd
        | B::LogicalOr => None,
    }
}

/// The value of an integer expression the checker knows (made of literals, `sizeof`,
/// `offsetof`, constants and comparisons of literal strings), or None.
pub(super) fn fold(e: &Expr) -> Option<i64> {
    match constant(e)? {
        Const::Int(i) => Some(i),
        Const::Str(_) | Const::Tuple(_) => None,
    }
}

impl Checker<'_> {
    /// `comptime e`: `e` checked, and replaced by its value, which must be known here.
    pub(super) fn comptime(&mut self, inner: &ast::Expr, span: ast::Span) -> Expr {
        let errors = self.errors();
        let e = self.expr(inner);
        if self.errors() > errors {
            return poisoned(span);
        }
        match constant(&e) {
            Some(Const::Int(i)) => mk(H::Int(i), e.ty, span),
            Some(Const::Str(_) | Const::Tuple(_)) => Expr { span, ..e },
            None => {
                self.push(diagnostics::comptime_not_constant(inner.span));
                poisoned(span)
            }
        }
    }

    /// `if comptime c { … } else { … }`: only the branch `c` chooses is checked and compiled,
    /// in a scope of its own; the other may use what this probe or kernel lacks.
    pub(super) fn comptime_if(
        &mut self,
        cond: &ast::Expr,
        then: &ast::Block,
        otherwise: Option<&ast::Else>,
        out: &mut Vec<Stmt>,
    ) {
        let errors = self.errors();
        let c = self.expr(cond);
        self.require_int(&c, "an if condition");
        let Some(Const::Int(taken)) = constant(&c).filter(|_| self.errors() == errors) else {
            return;
        };
        let chosen = if taken != 0 {
            self.block(then)
        } else {
            self.else_branch(otherwise)
        };
        out.extend(chosen);
    }
}

/// Whether `cond` is a `comptime` condition, which decides at check time.
pub(super) fn is_comptime(cond: &ast::Expr) -> bool {
    matches!(cond.kind, A::Comptime(_))
}
