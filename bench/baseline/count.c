/* bench/baseline/count.c: loads count.bpf.o with libbpf, attaches it, prints "Attached" and
 * waits for SIGINT/SIGTERM, then prints how many comms it counted. bench/events.sh runs it
 * beside rbt and bpftrace to measure the cost of the bare map update. */
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static void on_signal(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "count.bpf.o";
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj || libbpf_get_error(obj) || bpf_object__load(obj)) {
		fprintf(stderr, "cannot load %s\n", path);
		return 1;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "count_comm");
	struct bpf_link *link = prog ? bpf_program__attach(prog) : NULL;
	if (!link || libbpf_get_error(link)) {
		fprintf(stderr, "cannot attach\n");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("Attached\n");
	fflush(stdout);
	pause();
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;
}
