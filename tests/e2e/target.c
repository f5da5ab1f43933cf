/* tests/e2e/target.c: the traced program of the tier 2 uprobe/usdt/-c cases. Calls a
 * non-inlined function and passes a USDT probe N times (N = argv[1], default 3), then sleeps
 * argv[2] seconds if given (so user-space symbols can still be resolved while it lives); its
 * globals have known values for the uaddr() cases. Built with -g: its DWARF types uprobe args. */
#include <stdlib.h>
#include <unistd.h>
#include <sys/sdt.h>

long rbt_e2e_long = 1234567890123;
int rbt_e2e_int = -42;
unsigned char rbt_e2e_byte = 200;

__attribute__((noinline)) long rbt_e2e_add(long a, long b)
{
	__asm__ volatile("");
	return a + b;
}

/* A function whose instructions are known: a 10-byte `movabs`, then `ret` at offset 10,
 * so offset 3 is inside an instruction (for the uprobe offset checks); never called. */
__asm__(".text\n.globl rbt_e2e_insn\n.type rbt_e2e_insn, @function\nrbt_e2e_insn:\n"
	"\tmovabs $0x1122334455667788, %rax\n\tret\n.size rbt_e2e_insn, .-rbt_e2e_insn\n");

struct rbt_e2e_pair {
	long x;
	long y;
};

/* Records held by value, two deep: a named one, an anonymous one and an anonymous union,
 * for the cases that print whole records typed by DWARF. */
struct rbt_e2e_nest {
	struct rbt_e2e_pair pair;
	struct {
		int z;
		struct rbt_e2e_pair inner;
	} anon;
	union {
		int u;
		unsigned char b;
	};
	struct rbt_e2e_pair *next;
};
struct rbt_e2e_nest rbt_e2e_nest = { { 1, 2 }, { 3, { 7, 8 } }, { 4 }, 0 };

/* Byte arrays: those of C's character types are strings, those of a typedef'd byte are
 * integer arrays (as bpftrace 0.27 reads debug info). `raw` is full: no terminator. */
typedef unsigned char rbt_e2e_u8;
struct rbt_e2e_bytes {
	char name[4];
	unsigned char raw[4];
	rbt_e2e_u8 typed[2];
	signed char sign[3];
};
struct rbt_e2e_bytes rbt_e2e_bytes = { "abc", { 'w', 'x', 'y', 'z' }, { 4, 5 }, "pq" };

/* A two-dimensional array (one DWARF array type with two subranges), a 128-bit integer
 * (printed as its two words, low first) and a long double (no value, as float and double). */
struct rbt_e2e_wide {
	int grid[2][3];
	__int128 big;
	long double ld;
};
struct rbt_e2e_wide rbt_e2e_wide = { { { 1, 2, 3 }, { 4, 5, 6 } }, ((__int128)7 << 64) | 5, 1.5 };

/* DWARF-typed uprobe args: a struct passed by value takes two registers, so `q` and `k`
 * are in the third and fourth. */
__attribute__((noinline)) long rbt_e2e_pairs(struct rbt_e2e_pair p, const struct rbt_e2e_pair *q, int k)
{
	__asm__ volatile("");
	return p.x + q->y + k;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	long total = 0;
	struct rbt_e2e_pair pair = { 5, 6 };
	/* Read at the probe site as an indexed operand (`-48(%rbp,%rax,8)`-like). */
	volatile long squares[8] = { 0, -1, -4, -9, -16, -25, -36, -49 };
	if (rbt_e2e_pairs(pair, &pair, n) < 0)
		return 2;
	for (int i = 0; i < n; i++) {
		DTRACE_PROBE2(rbte2e, tick, i, (long)i * 10);
		DTRACE_PROBE1(rbte2e, indexed, squares[i & 7]);
		total += rbt_e2e_add(i, 100);
	}
	if (argc > 2)
		sleep(atoi(argv[2]));
	return total == 0;
}
