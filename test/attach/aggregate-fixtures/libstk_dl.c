/*
 * libstk_dl.c -- stack_app's dlopened library: the program copies it to
 * /tmp, dlopens the copy and deletes it, so its frames can be named only
 * through /proc/PID/map_files.
 */
__attribute__((noipa)) int stk_dl_call(int (*next)(int), int x)
{
	int r = next(x);
	__asm__ volatile("" ::: "memory");
	return r + 1;
}
