// tests/e2e/target_cxx.cpp: the traced C++ program of the tier 2 cases that name functions by
// their C++ names (`uprobe:{TARGET_CXX}:cpp:rbt::area`). Built with -g: an overloaded function
// in a namespace, one overload taking a struct by reference.
namespace rbt {
struct Point {
	int x, y;
};

__attribute__((noinline)) int area(const Point &p)
{
	asm volatile("");
	return p.x * p.y;
}

__attribute__((noinline)) int area(int side)
{
	asm volatile("");
	return side * side;
}
} // namespace rbt

int main()
{
	rbt::Point p{ 3, 4 };
	return rbt::area(p) + rbt::area(5) == 37 ? 0 : 1;
}
