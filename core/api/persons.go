package api

// registerPersons adds the registry's routes (persons.go, imports.go).
func (s *Server) registerPersons() {}
