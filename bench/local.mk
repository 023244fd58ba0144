## benchmarks (built by 'make bench'; not part of make check)
