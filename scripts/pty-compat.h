/* Bind node-pty's addon to the oldest versions of the symbols glibc 2.34 moved or re-versioned
 * (openpty/forkpty moved from libutil into libc; pthread_sigmask from libpthread in 2.32), so the
 * addon loads on EL8 (glibc 2.28). libutil.so.1 is linked explicitly: on EL8 these live there. */
__asm__(".symver openpty,openpty@GLIBC_2.2.5");
__asm__(".symver forkpty,forkpty@GLIBC_2.2.5");
__asm__(".symver pthread_sigmask,pthread_sigmask@GLIBC_2.2.5");
