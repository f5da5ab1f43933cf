//! The BPF helper functions codegen calls, by their kernel ids (`enum bpf_func_id` in
//! linux/bpf.h). A helper call is an indirect call through `inttoptr(id)`, which LLVM's BPF
//! backend turns into a `call id` instruction.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Helper {
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    /// The read that picks kernel or user memory by the address (`bpf_probe_read`).
    ProbeRead = 4,
    KtimeGetNs = 5,
    TracePrintk = 6,
    GetPrandomU32 = 7,
    GetSmpProcessorId = 8,
    GetCurrentPidTgid = 14,
    GetCurrentUidGid = 15,
    GetCurrentComm = 16,
    GetStackid = 27,
    GetCurrentTask = 35,
    GetNumaNodeId = 42,
    /// The string read that picks kernel or user memory by the address.
    ProbeReadStr = 45,
    ProbeWriteUser = 36,
    GetSocketCookie = 46,
    DPath = 147,
    OverrideReturn = 58,
    GetStack = 67,
    GetCurrentCgroupId = 80,
    SendSignal = 109,
    SendSignalThread = 117,
    SkbOutput = 111,
    ProbeReadUser = 112,
    ProbeReadKernel = 113,
    ProbeReadUserStr = 114,
    ProbeReadKernelStr = 115,
    Jiffies64 = 118,
    GetNsCurrentPidTgid = 120,
    KtimeGetBootNs = 125,
    PerCpuPtr = 153,
    ThisCpuPtr = 154,
    RingbufReserve = 131,
    RingbufSubmit = 132,
    RingbufQuery = 134,
    ForEachMapElem = 164,
    GetCurrentTaskBtf = 158,
    GetFuncIp = 173,
    GetAttachCookie = 174,
    TaskPtRegs = 175,
    Loop = 181,
    MapLookupPercpuElem = 195,
    KtimeGetTaiNs = 208,
}

/// `map_update_elem` flag: create or update.
pub const BPF_ANY: u64 = 0;
/// `ringbuf_submit` flag: do not wake the reader for this record.
pub const BPF_RB_NO_WAKEUP: u64 = 1;
/// `ringbuf_submit` flag: wake the reader now.
pub const BPF_RB_FORCE_WAKEUP: u64 = 2;
/// `ringbuf_query` flag: bytes written but not yet consumed.
pub const BPF_RB_AVAIL_DATA: u64 = 0;
/// `ringbuf_query` flag: the ring's size in bytes.
pub const BPF_RB_RING_SIZE: u64 = 1;
/// `perf_event_output` (and `skb_output`) flag: write to this CPU's buffer.
pub const BPF_F_CURRENT_CPU: u64 = 0xffff_ffff;
/// `get_stackid` flag: the stack is a user stack.
pub const BPF_F_USER_STACK: u64 = 1 << 8;
/// `get_stackid` flag: identical stacks share an id.
pub const BPF_F_REUSE_STACKID: u64 = 1 << 10;
