/*
 * mvmm-marker: writes one byte to the VMM's marker port (MVMM_MARKER_PORT),
 * by default MVMM_MARKER_BOOT_COMPLETE. The VMM turns the byte into an
 * event; /init calls this once the guest is up.
 *
 *   mvmm-marker [CHAR]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <unistd.h>

#include <mvmm/guest_abi.h>

int main(int argc, char **argv)
{
	unsigned char byte = MVMM_MARKER_BOOT_COMPLETE;
	int ioperm_errno;
	int fd;

	if (argc > 2 || (argc == 2 && strlen(argv[1]) != 1)) {
		fprintf(stderr, "usage: %s [CHAR]  (one character, default '%c')\n", argv[0],
			MVMM_MARKER_BOOT_COMPLETE);
		return 2;
	}
	if (argc == 2)
		byte = (unsigned char)argv[1][0];
	if (ioperm(MVMM_MARKER_PORT, 1, 1) == 0) {
		outb(byte, MVMM_MARKER_PORT);
		return 0;
	}
	/* Kernels without CONFIG_X86_IOPL_IOPERM may still have /dev/port. */
	ioperm_errno = errno;
	fd = open("/dev/port", O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && pwrite(fd, &byte, 1, MVMM_MARKER_PORT) == 1) {
		close(fd);
		return 0;
	}
	fprintf(stderr,
		"mvmm-marker: cannot write port 0x%x: ioperm: %s; /dev/port: %s "
		"(the kernel needs CONFIG_X86_IOPL_IOPERM or CONFIG_DEVPORT)\n",
		MVMM_MARKER_PORT, strerror(ioperm_errno), strerror(errno));
	if (fd >= 0)
		close(fd);
	return 1;
}
