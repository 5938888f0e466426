/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * msharefs: regions of memory whose page tables are shared by every
 * process that maps them.
 *
 * A regular file on msharefs (mounted at /sys/fs/mshare) is one region.
 * The region is sized once with ftruncate() or fallocate(), filled with
 * objects through MSHAREFS_CREATE_MAPPING, and mapped whole with mmap().
 * Read /sys/fs/mshare/mshare_info for the required alignment.
 */
#ifndef _UAPI_LINUX_MSHAREFS_H
#define _UAPI_LINUX_MSHAREFS_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Map an object (anonymous, file or hugetlb memory) into a region. */
struct mshare_create {
	__u64 region_offset;	/* where the object starts, in bytes from the region start */
	__u64 size;		/* length of the object in bytes */
	__u64 offset;		/* offset into the backing file, for file objects */
	__u32 prot;		/* PROT_* bits */
	__u32 flags;		/* MAP_* bits; MAP_SHARED and MAP_FIXED are required */
	__u32 fd;		/* backing file, or (__u32)-1 for anonymous memory */
};

/* Remove objects from a region, for every process that maps it. */
struct mshare_unmap {
	__u64 region_offset;	/* start of the range, in bytes from the region start */
	__u64 size;		/* length of the range in bytes */
};

#define MSHAREFS_CREATE_MAPPING	_IOW('x', 0, struct mshare_create)
#define MSHAREFS_UNMAP		_IOW('x', 1, struct mshare_unmap)

#endif /* _UAPI_LINUX_MSHAREFS_H */
