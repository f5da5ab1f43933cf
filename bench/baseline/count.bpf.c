/* bench/baseline/count.bpf.c: the hand-written equivalent of rbt's
 * `tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); }` — a per-CPU hash keyed by
 * the 16-byte comm, looked up and incremented in place, inserted on first use. It is the
 * floor the count() benchmark compares rbt against. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct key {
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct key);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_comm(void *ctx)
{
	struct key k;
	__u64 one = 1, *v;

	bpf_get_current_comm(&k.comm, sizeof(k.comm));
	v = bpf_map_lookup_elem(&counts, &k);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&counts, &k, &one, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
