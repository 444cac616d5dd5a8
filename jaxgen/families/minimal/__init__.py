"""The smallest complete family (docs/adding_a_family.md): a factorized Gaussian density."""
