package skyexec

// Binaries returns the stub sky and the supervisor that TestMain built, for the contract
// tests of package skyexec_test.
func Binaries() (stub, supervisor string) { return stubSky, supervisorBin }
