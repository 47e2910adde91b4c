/*
 * libstk_linked.cpp -- stack_app's linked library (DT_NEEDED, found by the
 * container's loader in /usr/lib): a C entry that calls a C++ member
 * function, so that one frame of the test's stack is the demangled
 * `ns::Klass::method(int)`.
 */
namespace ns {

class Klass {
public:
	explicit Klass(int (*next)(int)) : next_(next) {}
	__attribute__((noipa)) int method(int x);

private:
	int (*next_)(int);
};

int Klass::method(int x)
{
	int r = next_(x);
	__asm__ volatile("" ::: "memory");
	return r + 1;
}

} // namespace ns

extern "C" __attribute__((noipa)) int stk_linked_call(int (*next)(int), int x)
{
	ns::Klass k(next);
	int r = k.method(x);
	__asm__ volatile("" ::: "memory");
	return r + 1;
}
