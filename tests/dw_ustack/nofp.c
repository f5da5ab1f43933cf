/* tests/dw_ustack/nofp.c: the traced program of tests/dw_ustack.rs, built with
 * -fomit-frame-pointer so that only DWARF CFI can walk its stack. main calls
 * rbt_dw_outer (which keeps a large frame of its own) N times (N = argv[1]), which calls
 * rbt_dw_middle, which calls the leaf the probes attach to, then sleeps 50 ms so that the
 * tracer sees the process alive (its mappings name the objects to unwind with). The count
 * lives in a global,
 * not on the stack, so every call leaves the same bytes on the stack and the captures of
 * the N calls are equal. */
#include <stdlib.h>
#include <unistd.h>

volatile long rbt_dw_sink;
volatile int rbt_dw_left;

__attribute__((noinline)) void rbt_dw_leaf(void)
{
	rbt_dw_sink++;
}

__attribute__((noinline)) void rbt_dw_middle(void)
{
	rbt_dw_leaf();
	rbt_dw_sink++;
}

__attribute__((noinline)) void rbt_dw_outer(void)
{
	volatile char pad[200];
	pad[0] = 1;
	rbt_dw_middle();
	rbt_dw_sink += pad[0];
}

int main(int argc, char **argv)
{
	rbt_dw_left = argc > 1 ? atoi(argv[1]) : 1;
	while (rbt_dw_left-- > 0) {
		rbt_dw_outer();
		usleep(1000);
	}
	usleep(50000);
	return 0;
}
