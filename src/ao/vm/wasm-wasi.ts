/**
 * The WASI and emscripten syscall imports of a sandbox with no files, no environment and no
 * arguments: stdout and stderr are captured, everything else answers an errno.
 */
import type { HostFn, HostMemory } from './wasm-host-memory.ts';

// WASI errno values, which emscripten's libc uses too.
const EBADF = 8;
const ENOENT = 44;
const ENOSYS = 52;
const ENOTTY = 59;
const ESPIPE = 70;

const PATH_SYSCALL = /^(open|stat|lstat|access|faccessat|newfstatat|fstatat|readlink|mkdir|rmdir|unlink|rename|chdir|chmod|fchmodat|symlink|truncate|statfs|utimensat|mknod|link)/;
const FD_SYSCALL = /^(fstat|dup|fchmod|fchown|fdatasync|fsync|ftruncate|getdents|fadvise|fallocate|fstatfs|fchdir)/;

/** `capture(fd, bytes)` keeps what the module writes to stdout (1) and stderr (2). */
export function sandboxImports(memory: HostMemory, capture: (fd: number, bytes: Uint8Array) => void): Record<string, HostFn> {
  // iovec arrays: (pointer, length) pairs of pointer width. Reads from stdin see end of file.
  function transfer(args: number[], read: boolean): number {
    const [fd, iovs, count] = args as [number, number, number];
    const out = args.at(-1)!;
    if (fd > 2) return EBADF;
    const step = memory.is64 ? 16 : 8;
    let total = 0;
    for (let i = 0; !read && i < count; i++) {
      const base = memory.readPointer(iovs + i * step);
      const length = memory.readPointer(iovs + i * step + step / 2);
      if (fd !== 0) capture(fd, memory.u8().subarray(base, base + length));
      total += length;
    }
    memory.writeSize(out, total);
    return 0;
  }
  const noFile: HostFn = () => EBADF;
  const noPath: HostFn = () => ENOENT;
  const nothing: HostFn = (args) => {
    memory.writeSize(args[0]!, 0);
    memory.writeSize(args[1]!, 0);
    return 0;
  };
  return {
    fd_write: (args) => transfer(args, false),
    fd_read: (args) => (args[0] === 0 ? transfer(args, true) : EBADF),
    fd_pwrite: noFile,
    fd_pread: noFile,
    fd_close: (args) => (args[0]! <= 2 ? 0 : EBADF),
    fd_seek: (args) => (args[0]! <= 2 ? ESPIPE : EBADF),
    fd_sync: (args) => (args[0]! <= 2 ? 0 : EBADF),
    fd_fdstat_get: (args) => {
      if (args[0]! > 2) return EBADF;
      const view = memory.u8();
      view.fill(0, args[1]!, args[1]! + 24);
      view[args[1]!] = 2; // a character device
      return 0;
    },
    fd_filestat_get: noFile,
    fd_prestat_get: noFile,
    fd_prestat_dir_name: noFile,
    fd_readdir: noFile,
    path_open: noPath,
    path_filestat_get: noPath,
    environ_sizes_get: nothing,
    environ_get: () => 0,
    args_sizes_get: nothing,
    args_get: () => 0,
    sched_yield: () => 0,
    system: (args) => (args[0] ? -1 : 0),
  };
}

/** `__syscall_<call>`: negative errno for anything touching files, as a kernel without them would. */
export function syscallImport(memory: HostMemory, call: string): HostFn {
  if (call === 'getcwd') {
    return (args) => {
      if (args[1]! < 2) return -ENOENT;
      memory.writeCString(args[0]!, '/');
      return 2;
    };
  }
  if (call === 'ioctl') return (args) => (args[0]! <= 2 ? -ENOTTY : -EBADF);
  if (call.startsWith('fcntl')) return (args) => (args[0]! <= 2 ? 0 : -EBADF);
  if (FD_SYSCALL.test(call)) return () => -EBADF;
  if (PATH_SYSCALL.test(call)) return () => -ENOENT;
  return () => -ENOSYS;
}
