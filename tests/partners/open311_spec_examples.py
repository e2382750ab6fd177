# ruff: noqa: E501 (the examples as published, long lines included)
"""Example responses of the Open311 GeoReport v2 specification, as published at
https://wiki.open311.org/GeoReport_v2 (sections "GET Service List", "GET Service Definition",
"POST Service Request", "GET Service Requests" and "Errors"), and of the service discovery
page, https://wiki.open311.org/Service_discovery. Our responses are compared with their
element structure (tests/partners/test_open311.py), not their values.
"""

SERVICE_LIST_XML = """<?xml version="1.0" encoding="utf-8"?>
<services>
  <service>
    <service_code>001</service_code>
    <service_name>Cans left out 24x7</service_name>
    <description>Garbage or recycling cans that have been left out for more than 24 hours after collection. Violators will be cited.</description>
    <metadata>true</metadata>
    <type>realtime</type>
    <keywords>lorem, ipsum, dolor</keywords>
    <group>sanitation</group>
  </service>
</services>
"""

SERVICE_DEFINITION_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_definition>
  <service_code>DMV66</service_code>
  <attributes>
    <attribute>
      <variable>true</variable>
      <code>WHISHETN</code>
      <datatype>singlevaluelist</datatype>
      <required>true</required>
      <datatype_description></datatype_description>
      <order>1</order>
      <description>What is the ticket/tag/DL number?</description>
      <values>
        <value>
          <key>123</key>
          <name>Ford</name>
        </value>
        <value>
          <key>124</key>
          <name>Chrysler</name>
        </value>
      </values>
    </attribute>
  </attributes>
</service_definition>
"""

POST_SERVICE_REQUEST_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
  <request>
    <service_request_id>293944</service_request_id>
    <service_notice>The City will inspect and require the responsible party to correct within 24 hours and/or issue a Correction Notice or Notice of Violation of the Public Works Code</service_notice>
    <account_id/>
  </request>
</service_requests>
"""

POST_SERVICE_REQUEST_JSON = """[
  {
    "service_request_id": 293944,
    "service_notice": "The City will inspect and require the responsible party to correct within 24 hours and/or issue a Correction Notice or Notice of Violation of the Public Works Code",
    "account_id": null
  }
]"""

GET_SERVICE_REQUESTS_XML = """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
  <request>
    <service_request_id>638344</service_request_id>
    <status>closed</status>
    <status_notes>Duplicate request.</status_notes>
    <service_name>Sidewalk and Curb Issues</service_name>
    <service_code>006</service_code>
    <description></description>
    <agency_responsible></agency_responsible>
    <service_notice></service_notice>
    <requested_datetime>2010-04-14T06:37:38-08:00</requested_datetime>
    <updated_datetime>2010-04-14T06:37:38-08:00</updated_datetime>
    <expected_datetime>2010-04-15T06:37:38-08:00</expected_datetime>
    <address>8TH AVE and JUDAH ST</address>
    <address_id>545483</address_id>
    <zipcode>94122</zipcode>
    <lat>37.762221815767</lat>
    <long>-122.4651331084</long>
    <media_url>http://city.gov.s3.amazonaws.com/requests/media/638344.jpg </media_url>
  </request>
</service_requests>
"""

ERRORS_XML = """<?xml version="1.0" encoding="utf-8"?>
<errors>
  <error>
    <code>403</code>
    <description>Invalid api_key received -- can't proceed with create_request.</description>
  </error>
</errors>
"""

DISCOVERY_XML = """<?xml version="1.0" encoding="utf-8"?>
<discovery>
  <changeset>2011-04-05T17:48:34Z</changeset>
  <contact>Please email ( content.311@sfgov.org )  or call ( 415-701-2311 ) for assistance or to report bugs</contact>
  <key_service>To get an API_KEY please visit this website:  http://apps.sfgov.org/Open311API/?page_id=54</key_service>
  <endpoints>
    <endpoint>
      <specification>http://wiki.open311.org/GeoReport_v2</specification>
      <url>https://open311.sfgov.org/V2</url>
      <changeset>2011-04-20T17:48:34Z</changeset>
      <type>production</type>
      <formats>
        <format>text/xml</format>
      </formats>
    </endpoint>
  </endpoints>
</discovery>
"""
