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

/// BTF packs a location as `line << 10 | column` in 32 bits.
const MAX_COLUMN: usize = (1 << 10) - 1;
const MAX_LINE: usize = (1 << 22) - 1;

/// Where the script's lines start, to turn span offsets into lines and columns.
pub struct Lines {
    /// Byte offset of the first byte of each line; `starts[0]` is 0.
    starts: Vec<usize>,
}

impl Lines {
    pub fn new(source: &str) -> Lines {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { starts }
    }

    /// The 1-based line and column (in bytes) of a byte offset. Both are clamped to what BTF
    /// can hold, so a very long line cannot spill its column into the line number.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        // At least 1, because starts[0] = 0 <= offset.
        let line = self.starts.partition_point(|s| *s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let col = offset.saturating_sub(start) + 1;
        (line.min(MAX_LINE) as u32, col.min(MAX_COLUMN) as u32)
    }
}

/// Gives the instructions of one probe function their script locations.
pub struct Locator<'a, 'ctx> {
    context: &'ctx Context,
    debug: &'a DebugTypes<'ctx>,
    lines: &'a Lines,
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
        lines: &'a Lines,
        func: FunctionValue<'ctx>,
        params: &[&str],
        local: bool,
        span: Span,
    ) -> Locator<'a, 'ctx> {
        let (line, _) = lines.line_col(span.start);
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

    /// The location of the script text starting at `span`.
    pub fn at(&self, span: Span) -> DILocation<'ctx> {
        let (line, col) = self.lines.line_col(span.start);
        self.debug
            .dib
            .create_debug_location(self.context, line, col, self.scope, None)
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn offsets_become_lines_and_columns() {
        let lines = Lines::new("BEGIN {\n  $x = 1;\n\n  exit();\n}");
        assert_eq!(lines.line_col(0), (1, 1));
        assert_eq!(lines.line_col(10), (2, 3));
        assert_eq!(lines.line_col(18), (3, 1));
        assert_eq!(lines.line_col(21), (4, 3));
        // Past the end (an empty or shorter source): the last line, never a panic.
        assert_eq!(Lines::new("").line_col(5), (1, 6));
        let long = format!("{}x", " ".repeat(5000));
        assert_eq!(Lines::new(&long).line_col(5000), (1, 1023));
    }
}
