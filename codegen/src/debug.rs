//! Script locations in the object: one `DISubprogram` per probe function and a `DILocation`
//! (script line and column) on the instructions lowered from each statement and expression.
//! LLVM's BPF backend turns them into `.BTF.ext` line info, libbpf hands that to the kernel,
//! and the verifier log then names the script line of the instructions it prints
//! (`; <line text> @ stdin:3`): that is how the runtime points a rejection at the script.
//! Debug locations are metadata only; they never change the generated instructions.

use crate::maps::DebugTypes;
use inkwell::context::Context;
use inkwell::debug_info::{AsDIScope, DIFlags, DIFlagsConstants, DILocation, DIScope, DIType};
use inkwell::values::FunctionValue;
use lang::ast::Span;
use stdlib::diag::Lines;

/// BTF packs a location as `line << 10 | column` in 32 bits.
const MAX_COLUMN: usize = (1 << 10) - 1;
const MAX_LINE: usize = (1 << 22) - 1;

/// The 1-based line and column (in bytes) of a byte offset, clamped to what BTF can hold so
/// a very long line cannot spill its column into the line number.
fn btf_line_col(lines: &Lines, offset: usize) -> (u32, u32) {
    let (line, col) = lines.line_col(offset);
    (line.min(MAX_LINE) as u32, col.min(MAX_COLUMN) as u32)
}

/// Gives the instructions of one probe function their script locations.
pub struct Locator<'a, 'ctx> {
    context: &'ctx Context,
    debug: &'a DebugTypes<'ctx>,
    lines: &'a Lines<'a>,
    scope: DIScope<'ctx>,
}

impl<'a, 'ctx> Locator<'a, 'ctx> {
    /// Describes `func` as `long name(…)` declared at `span`, its parameters named `params`
    /// (pointers as `unsigned char *`, integers as `long`), and returns the locator for its
    /// instructions. BTF gets the function from this too: the kernel wants func info for every
    /// program and subprogram once line info is present, refuses a prototype with an unnamed
    /// parameter, and wants callbacks `static` (`local`).
    pub fn new(
        context: &'ctx Context,
        debug: &'a DebugTypes<'ctx>,
        lines: &'a Lines<'a>,
        func: FunctionValue<'ctx>,
        params: &[&str],
        local: bool,
        span: Span,
    ) -> Locator<'a, 'ctx> {
        let (line, _) = btf_line_col(lines, span.start);
        let param_types: Vec<DIType<'ctx>> = func
            .get_type()
            .get_param_types()
            .iter()
            .map(|t| {
                if t.is_pointer_type() {
                    debug.byte_ptr()
                } else {
                    debug.long()
                }
            })
            .collect();
        let ty = debug.dib.create_subroutine_type(
            debug.file,
            Some(debug.long()),
            &param_types,
            DIFlags::ZERO,
        );
        let name = func.get_name().to_string_lossy();
        let subprogram = debug.dib.create_function(
            debug.cu.as_debug_info_scope(),
            &name,
            None,
            debug.file,
            line,
            ty,
            local,
            true,
            line,
            DIFlags::PROTOTYPED,
            true,
        );
        // BTF takes argument names from the subprogram's parameter variables (kept even
        // unused: preserved parameters become the subprogram's retained nodes).
        for (i, (param, ty)) in params.iter().zip(&param_types).enumerate() {
            debug.dib.create_parameter_variable(
                subprogram.as_debug_info_scope(),
                param,
                i as u32 + 1,
                debug.file,
                line,
                *ty,
                true,
                DIFlags::ZERO,
            );
        }
        func.set_subprogram(subprogram);
        Locator {
            context,
            debug,
            lines,
            scope: subprogram.as_debug_info_scope(),
        }
    }

    /// A locator for another function of the same script (a callback), described as
    /// [`Locator::new`] does.
    pub fn for_function(
        &self,
        func: FunctionValue<'ctx>,
        params: &[&str],
        local: bool,
        span: Span,
    ) -> Locator<'a, 'ctx> {
        Locator::new(
            self.context,
            self.debug,
            self.lines,
            func,
            params,
            local,
            span,
        )
    }

    /// The object's debug types, for declarations that need BTF (kfuncs, CO-RE records).
    pub fn debug(&self) -> &'a DebugTypes<'ctx> {
        self.debug
    }

    /// The location of the script text starting at `span`.
    pub fn at(&self, span: Span) -> DILocation<'ctx> {
        let (line, col) = btf_line_col(self.lines, span.start);
        self.debug
            .dib
            .create_debug_location(self.context, line, col, self.scope, None)
    }
}

#[cfg(test)]
mod tests {
    use super::{btf_line_col, Lines};

    #[test]
    fn columns_and_lines_fit_btf() {
        let lines = Lines::new("BEGIN {\n  $x = 1;\n}");
        assert_eq!(btf_line_col(&lines, 10), (2, 3));
        let long = format!("{}x", " ".repeat(5000));
        assert_eq!(btf_line_col(&Lines::new(&long), 5000), (1, 1023));
    }
}
