/*
 * A minimal test harness for the C test programs. Each program lists its
 * tests in a table. Run it with no argument to run them all, with -list to
 * print their names, or with one name to run that test alone. The Go tests
 * of package firmware run each test as a subtest this way.
 */
#ifndef GARAGE_CHECK_H
#define GARAGE_CHECK_H

#include <stdio.h>
#include <string.h>

typedef struct {
	const char *name;
	void (*run)(void);
} test_case;

static int check_failures;

/* Records a failure with its location and a printf-style message, and goes on. */
#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		check_failures++; \
		fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
	} \
} while (0)

static int run_tests(const test_case *tests, size_t count, int argc, char **argv)
{
	size_t i;
	int ran = 0;

	if (argc == 2 && strcmp(argv[1], "-list") == 0) {
		for (i = 0; i < count; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	for (i = 0; i < count; i++) {
		if (argc == 2 && strcmp(argv[1], tests[i].name) != 0)
			continue;
		int before = check_failures;
		tests[i].run();
		printf("%s %s\n", check_failures == before ? "ok  " : "FAIL", tests[i].name);
		ran++;
	}
	if (ran == 0) {
		fprintf(stderr, "no test named %s: run with -list to see the names\n", argv[1]);
		return 2;
	}
	return check_failures == 0 ? 0 : 1;
}

#endif /* GARAGE_CHECK_H */
