// Package connector joins the platform to a region's own systems: data
// sources (facts about persons), event sources (life events), payment
// sinks (a bank or treasury) and notifiers.
//
// The interfaces are the SDK's (sdk/connector), aliased here, so a
// built-in connector of this package and a plug-in one from
// core/pluginhost are interchangeable and no adapter can drift from the
// contract plug-in authors code against. The built-ins read files or talk
// JSON over HTTP; each is built from a Spec, the connector's entry in a
// region's configuration. A Spec of type plugin names a plug-in: the
// caller resolves it with the plug-in host (Host.DataSource and its
// siblings), as this package does not start processes.
//
// Built-ins check what they read as the plug-in clients check a plug-in's
// answer: a fact about a person not asked about, a status of an order not
// sent, a value the contract does not have refuses the whole answer, since
// a fact on the wrong person or an order taken for paid is worse than a
// failed call. Errors say whose failure it is: a system that does not
// answer, or answers an HTTP error, is marked sdk.Upstream; an answer that
// breaks the format is ErrBadAnswer; a file that is malformed names the
// line. No error echoes a SNILS.
//
// Pull is the platform's use of a data source today: it records the facts
// a source has about registered persons in the region's registry.
package connector
