/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The BPF filesystem under lbd's pin directory. */
#ifndef LBD_BPFFS_H
#define LBD_BPFFS_H

/*
 * Makes pin_path a directory on a BPF filesystem, mounting one where there
 * is none, as Cilium's agent does: at /sys/fs/bpf when the pin path is
 * below it (other tools look there), else at the pin path itself. Returns
 * 0 or a negative errno. Library code.
 */
int bpffs_ensure(const char *pin_path);

#endif /* LBD_BPFFS_H */
