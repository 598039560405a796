/*
 * registry: the compiled-in adapters. The list is constant; lookups never
 * allocate and return NULL for an unknown name.
 */
#include "adapter.h"

#include <stddef.h>
#include <string.h>

extern const struct adapter csv_adapter;
extern const struct adapter xml_adapter;

static const struct adapter *const adapters[] = {
	&csv_adapter,
	&xml_adapter,
	NULL,
};

const struct adapter *const *adapter_list(void)
{
	return adapters;
}

const struct adapter *adapter_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; adapters[i]; i++)
		if (!strcmp(adapters[i]->name, name))
			return adapters[i];
	return NULL;
}
