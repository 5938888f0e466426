// SPDX-License-Identifier: GPL-2.0
/*
 * Structure offsets for the mshare-vmm introspection profile.
 *
 * Compiled to assembly against a configured and built kernel tree (as an
 * external module: make -C <src> O=<build> M=<dir> offsets.s), never linked.
 * Each value is emitted into the assembly as a line
 *     ->name $value
 * in the way the kernel's own asm-offsets.c does it, and make-profile.py
 * reads those lines.
 */
#include <linux/mm_types.h>
#include <linux/sched.h>
#include <linux/stddef.h>

#define MVMM_VALUE(name, val) asm volatile("\n.ascii \"->" name " %0\"" : : "i"(val))
#define MVMM_OFFSET(name, type, member) MVMM_VALUE(name, offsetof(type, member))

void mvmm_profile_offsets(void);

void mvmm_profile_offsets(void)
{
	MVMM_OFFSET("task_struct.tasks", struct task_struct, tasks);
	MVMM_OFFSET("task_struct.pid", struct task_struct, pid);
	MVMM_OFFSET("task_struct.tgid", struct task_struct, tgid);
	MVMM_OFFSET("task_struct.comm", struct task_struct, comm);
	MVMM_OFFSET("task_struct.mm", struct task_struct, mm);
	MVMM_OFFSET("mm_struct.pgd", struct mm_struct, pgd);
#ifdef CONFIG_MMU
	MVMM_OFFSET("mm_struct.pgtables_bytes", struct mm_struct, pgtables_bytes);
#endif
	MVMM_VALUE("page.size", sizeof(struct page));
#if defined(CONFIG_MSHARE) || defined(CONFIG_HUGETLB_PMD_PAGE_TABLE_SHARING)
	MVMM_OFFSET("ptdesc.pt_share_count", struct ptdesc, pt_share_count);
#endif
}
